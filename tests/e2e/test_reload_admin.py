"""Live TOML edits against a running gateway process, and the admin API."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import load_config
from tests.conditions import wait_until
from tests.procs import Proc, start_gateway, start_mock_provider

KEY = "sk-reload-test"
OTHER_KEY = "sk-reload-other"
ADMIN_KEY = "admin-secret-for-tests"
PROVIDER_SECRET = "prov-secret-reload-9d8c7b6a5f4e3d2c"
ENV = {"RELOAD_ADMIN_KEY": ADMIN_KEY, "RELOAD_PROVIDER_KEY": PROVIDER_SECRET}
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def config_text(
    upstream: Proc,
    extra_models: str = "",
    keys: tuple[str, ...] = (KEY, OTHER_KEY),
    fallback: str = "",
) -> str:
    key_blocks = "".join(
        f'\n[[keys]]\nid = "k{i}"\npolicy = "tight"\nkey_sha256 = "{sha(secret)}"\n'
        for i, secret in enumerate(keys)
    )
    fallbacks = f'fallbacks = ["{fallback}"]\n' if fallback else ""
    return f"""[admin]
key_env = "RELOAD_ADMIN_KEY"

[logging]
path = "requests.jsonl"

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"
api_key_env = "RELOAD_PROVIDER_KEY"

[[models]]
name = "base"
{fallbacks}[[models.deployments]]
provider = "mock"
model = "mock-small"
{extra_models}{key_blocks}"""


NEW_MODEL = (
    '\n[[models]]\nname = "brand-new"\n[[models.deployments]]\nprovider = "mock"\nmodel = "echo"\n'
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture
def setup(tmp_path: Path, upstream: Proc) -> Iterator[tuple[Proc, Path]]:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "tight.toml").write_text("[limits]\nrpm = 1000\n")
    config = tmp_path / "config.toml"
    config.write_text(config_text(upstream))
    proc = start_gateway(config, env=ENV)
    yield proc, config
    proc.stop()


def chat(gateway: Proc, model: str = "base", key: str = KEY) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )


def status(gateway: Proc) -> dict[str, Any]:
    return dict(httpx.get(gateway.url + "/admin/config/status", headers=ADMIN).json())


def wait_for_reload(gateway: Proc, before: str, timeout: float = 1.0) -> str:
    wait_until(lambda: status(gateway)["version"] != before, timeout, 0.02, "no reload")
    return str(status(gateway)["version"])


def metric(gateway: Proc, line_prefix: str) -> float:
    for line in httpx.get(gateway.url + "/metrics").text.splitlines():
        if line.startswith(line_prefix):
            return float(line.split()[-1])
    return 0.0


def test_added_model_serves_within_a_second_without_failures(
    setup: tuple[Proc, Path], upstream: Proc
) -> None:
    gateway, config = setup
    failures: list[int] = []
    answered = [0]
    stop = threading.Event()

    def steady_loop() -> None:
        while not stop.is_set():
            code = chat(gateway).status_code
            answered[0] += 1
            if code != 200:
                failures.append(code)

    def answered_more(than: int) -> bool:
        return answered[0] >= than + 5

    loop = threading.Thread(target=steady_loop)
    loop.start()
    try:
        wait_until(lambda: answered_more(0), 5, message="the steady traffic did not start")
        config.write_text(config_text(upstream, NEW_MODEL))

        def listed() -> bool:
            models = httpx.get(
                gateway.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"}
            ).json()
            return "brand-new" in {m["id"] for m in models["data"]}

        wait_until(listed, 1.0, 0.02, "the new model is not listed")
        assert chat(gateway, "brand-new").status_code == 200
        reloaded_at = answered[0]
        wait_until(lambda: answered_more(reloaded_at), 5, message="the steady traffic stalled")
    finally:
        stop.set()
        loop.join()
    assert failures == []


def test_lowered_rpm_applies_on_the_next_request(setup: tuple[Proc, Path]) -> None:
    gateway, config = setup
    for _ in range(3):
        assert chat(gateway).status_code == 200
    before = status(gateway)["version"]
    (config.parent / "policies" / "tight.toml").write_text("[limits]\nrpm = 3\n")
    wait_for_reload(gateway, before)
    refused = chat(gateway)
    assert refused.status_code == 429, (
        "counters survive the reload and the new limit applies at once"
    )
    assert refused.headers["x-ratelimit-limit-requests"] == "3"


def test_revoked_key_gets_401_on_its_next_request(setup: tuple[Proc, Path], upstream: Proc) -> None:
    gateway, config = setup
    assert chat(gateway, key=OTHER_KEY).status_code == 200
    before = status(gateway)["version"]
    config.write_text(config_text(upstream, keys=(KEY,)))
    wait_for_reload(gateway, before)
    assert chat(gateway, key=OTHER_KEY).status_code == 401
    assert chat(gateway, key=KEY).status_code == 200


def test_broken_edits_are_refused_and_the_old_config_keeps_serving(
    setup: tuple[Proc, Path], upstream: Proc
) -> None:
    gateway, config = setup
    good = status(gateway)["version"]
    errors_before = metric(gateway, 'gateway_config_reloads_total{result="error"}')

    config.write_text(config_text(upstream) + "\n[server\nport = 1\n")
    wait_until(lambda: status(gateway)["last_result"] == "error", 1.0)
    problems = status(gateway)["last_error"]["problems"]
    assert (
        problems
        and problems[0].startswith(f"{config}:")
        and ":" in problems[0][len(str(config)) + 1 :]
    )
    assert chat(gateway).status_code == 200

    broken = config_text(upstream, fallback="no-such-model")
    config.write_text(broken)
    wait_until(lambda: "no-such-model" in " ".join(status(gateway)["last_error"]["problems"]), 1.0)
    problem = status(gateway)["last_error"]["problems"][0]
    line = broken.splitlines().index('fallbacks = ["no-such-model"]') + 1
    assert (
        problem
        == f"{config}:{line}: model 'base': fallback 'no-such-model' is not a configured model"
    )
    assert chat(gateway).status_code == 200
    assert status(gateway)["version"] == good
    assert metric(gateway, 'gateway_config_reloads_total{result="error"}') == errors_before + 2

    config.write_text(config_text(upstream, NEW_MODEL))
    wait_for_reload(gateway, good)
    assert status(gateway)["last_result"] == "ok"
    assert chat(gateway, "brand-new").status_code == 200


def test_atomic_rename_and_symlink_swap_both_reload(tmp_path: Path, upstream: Proc) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "tight.toml").write_text("[limits]\nrpm = 1000\n")
    # A ConfigMap-style layout: config.toml -> ..data/config.toml, ..data -> a versioned directory.
    first = tmp_path / "..v1"
    first.mkdir()
    (first / "config.toml").write_text(config_text(upstream))
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "config.toml").symlink_to("..data/config.toml")
    gateway = start_gateway(tmp_path / "config.toml", env=ENV)
    try:
        version = status(gateway)["version"]
        second = tmp_path / "..v2"
        second.mkdir()
        (second / "config.toml").write_text(config_text(upstream, NEW_MODEL))
        (tmp_path / "..data_tmp").symlink_to("..v2")
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # the swap kubelet does
        version = wait_for_reload(gateway, version)
        assert chat(gateway, "brand-new").status_code == 200

        # An editor's write-to-temp-then-rename, replacing the symlink with a file.
        temp = tmp_path / ".config.toml.tmp"
        temp.write_text(config_text(upstream))
        os.replace(temp, tmp_path / "config.toml")
        wait_for_reload(gateway, version)
        assert chat(gateway, "brand-new").status_code == 404
    finally:
        gateway.stop()


def test_two_workers_agree_on_the_config_hash(tmp_path: Path, upstream: Proc) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "tight.toml").write_text("[limits]\nrpm = 1000\n")
    config = tmp_path / "config.toml"
    config.write_text(config_text(upstream))
    gateway = start_gateway(config, workers=2, env=ENV)
    try:
        wait_until(lambda: len(status(gateway)["workers"]) == 2, 10)
        before = status(gateway)["version"]
        config.write_text(config_text(upstream, NEW_MODEL))

        def agreed() -> bool:
            workers = status(gateway)["workers"]
            return len(workers) == 2 and all(w["version"] != before for w in workers)

        wait_until(agreed, 2.0)
        assert status(gateway)["workers_agree"] is True
        assert len({w["pid"] for w in status(gateway)["workers"]}) == 2
    finally:
        gateway.stop()


def test_admin_needs_its_key_and_never_shows_secrets(setup: tuple[Proc, Path]) -> None:
    gateway, _ = setup
    chat(gateway)
    paths = [
        "/admin/config",
        "/admin/config/status",
        "/admin/deployments",
        "/admin/usage?key=k0&team=&since=1h",
    ]
    for path in paths:
        assert httpx.get(gateway.url + path).status_code == 401
        assert (
            httpx.get(gateway.url + path, headers={"authorization": "Bearer wrong"}).status_code
            == 401
        )
    assert httpx.post(gateway.url + "/admin/reload").status_code == 401
    bodies = [httpx.get(gateway.url + path, headers=ADMIN) for path in paths]
    bodies.append(httpx.post(gateway.url + "/admin/reload", headers=ADMIN))
    assert all(r.status_code == 200 for r in bodies), [
        r.text for r in bodies if r.status_code != 200
    ]
    text = "\n".join(r.text for r in bodies)
    assert PROVIDER_SECRET not in text and ADMIN_KEY not in text and sha(KEY) not in text
    config = bodies[0].json()
    assert config["providers"]["mock"]["api_key"] == "set (masked)"
    usage = bodies[3].json()
    assert usage["requests"] >= 1 and usage["key_spend"]["total"] >= 0
    deployments = bodies[2].json()["deployments"]
    assert (
        deployments[0]["deployment"] == "mock/mock-small" and deployments[0]["health"] == "closed"
    )


def test_truncate_then_write_saves_never_apply_a_torn_config(
    setup: tuple[Proc, Path], upstream: Proc
) -> None:
    gateway, config = setup
    # A large comment makes each save take a moment: a reload may read the file mid-save.
    good = "".join(f"# padding {i:07d} {'x' * 100}\n" for i in range(10000)) + config_text(upstream)
    refused: list[int] = []
    saving = threading.Event()
    saving.set()

    def client() -> None:
        with httpx.Client(base_url=gateway.url, timeout=10) as http:
            while saving.is_set():
                answer = http.get("/v1/models", headers={"authorization": f"Bearer {KEY}"})
                if answer.status_code != 200:
                    refused.append(answer.status_code)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        for i in range(150):
            with config.open("w") as handle:  # truncate, then write
                handle.write(f"{good}# save {i}\n")
        last = load_config(config, env=ENV).version
        wait_until(lambda: status(gateway)["version"] == last, 5.0, 0.05, "last save not applied")
    finally:
        saving.clear()
        thread.join()
    assert refused == []
