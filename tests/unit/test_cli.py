"""gateway.cli: flag values are checked before anything starts; a usage error is exit 2."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import uvicorn

from gateway import supervisor
from gateway.app import CONFIG_ENV
from gateway.cli import main
from gateway.observability.multiproc import MULTIPROC_ENV
from gateway.reload import RUN_DIR_ENV
from tests.mock_config import DEMO_KEY_SHA256, MOCK_MODEL, key_table


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The last line argparse printed for `argv`, which must exit 2."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("port", ["-1", "70000", str(2**64), "x"])
def test_port_out_of_range_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A port past 65535 used to raise OverflowError at bind (serve) or wrap around modulo
    65536 (mock-provider listened on 4464 for 70000)."""
    for command in ("serve", "mock-provider"):
        assert "argument --port: " in usage_error([command, "--port", port], capsys)


def test_serve_prints_an_ipv6_host_in_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL)
    monkeypatch.setenv(CONFIG_ENV, str(config))  # serve sets it for its workers
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert main(["serve", "--config", str(config), "--host", "::1", "--port", "0"]) == 0
    assert "listening on http://[::1]:" in capsys.readouterr().out


@pytest.mark.parametrize("workers", ["-1", "0", "257", str(10**20)])
def test_workers_out_of_range_is_a_usage_error(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--workers -1` used to start "-1 worker", `0` silently took the config's count, and a
    vast count forked workers until memory ran out."""
    # Without the check, serve would stop at the missing config (exit 2, no SystemExit).
    argv = ["serve", "--config", "/nonexistent.toml", "--workers", workers]
    line = usage_error(argv, capsys)
    assert line.endswith(f"argument --workers: must be between 1 and 256, got {workers}")


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("\udcff", "is not valid UTF-8"),
        ("", "is empty"),
        ("sk-x\n", "has leading or trailing whitespace (a newline?), which no header can carry"),
        ("clé", "holds characters other than printable ASCII, which no header can carry"),
    ],
)
def test_keys_hash_refuses_what_no_key_can_be(
    secret: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argv holds bytes that are not UTF-8 as lone surrogates (a UnicodeEncodeError traceback);
    the config refuses an empty key, so its hash is of no use."""
    assert main(["keys", "hash", secret]) == 2
    assert capsys.readouterr() == ("", f"error: the secret {why}\n")


@pytest.mark.parametrize("typed", ["sk-from-stdin\n", "sk-from-stdin\r\n", "sk-from-stdin"])
def test_keys_hash_reads_the_secret_from_stdin(
    typed: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, the secret could only be an argument: in the shell history and, while the
    command ran, in every user's `ps`. `-` reads it from stdin, without its line end."""
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert main(["keys", "hash", "-"]) == 0
    assert capsys.readouterr().out == hashlib.sha256(b"sk-from-stdin").hexdigest() + "\n"


def test_serve_says_in_one_line_that_it_cannot_bind_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The socket refuses a name it cannot encode with TypeError, which escaped as a traceback."""
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL)
    host = "ä" * 70
    assert main(["serve", "--config", str(config), "--host", host, "--port", "0"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot listen on {host}:0: encoding of hostname failed\n"
    )


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_serve_warns_when_the_demo_key_listens_beyond_loopback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    host: str,
    warned: bool,
) -> None:
    """The Docker image runs the demo config on 0.0.0.0: the published sk-demo key then opens
    the gateway to anyone who reaches the port, and nothing said so."""
    demo = hashlib.sha256(b"sk-demo").hexdigest()
    config = tmp_path / "config.toml"
    config.write_text(f'{MOCK_MODEL}\n[[keys]]\nid = "demo"\nkey_sha256 = "{demo}"\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))  # serve sets it for its workers
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert main(["serve", "--config", str(config), "--host", host, "--port", "0"]) == 0
    err = capsys.readouterr().err
    assert ("warning: key 'demo' accepts the published demo secret sk-demo" in err) is warned


def test_check_reports_every_problem_of_the_config_and_its_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text("[limits]\nrpm = 0\n")
    (tmp_path / "policies" / "q.toml").write_text("[limits\n")
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nport = "80"\n\n'
        + MOCK_MODEL
        + f'\n[[keys]]\nid = "a"\npolicy = "p"\nkey_sha256 = "{DEMO_KEY_SHA256}"\n'
        + '\n[[keys]]\nid = "b"\npolicy = "q"\nkey_env = "CHECK_UNSET_VARIABLE"\n'
    )
    assert main(["check", str(config)]) == 1
    lines = capsys.readouterr().out.replace(f"{tmp_path}/", "").splitlines()
    assert lines == [
        "config.toml:2: server.port: expected integer, got string",
        "config.toml:22: key 'b': environment variable CHECK_UNSET_VARIABLE is not set",
        "policies/p.toml:2: limits.rpm: must be greater than 0, got 0",
        "policies/q.toml:1: Expected ']' at the end of a table declaration",
    ]


def test_check_warns_of_the_demo_key_at_its_line_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL + key_table("other") + key_table("x").replace("x", "demo"))
    assert main(["check", str(config)]) == 1  # two keys with one secret: an error, no warning
    assert "warning" not in capsys.readouterr().out
    config.write_text(MOCK_MODEL + f'\n[[keys]]\nid = "demo"\nkey_sha256 = "{DEMO_KEY_SHA256}"\n')
    assert main(["check", str(config)]) == 0
    warning, ok = capsys.readouterr().out.splitlines()
    assert warning.startswith(
        f"{config}:13: warning: key 'demo' accepts the published demo secret sk-demo"
    )
    assert ok.startswith(f"ok: {config} (version ")
    # Still accepted as a secret being rotated out: still a warning, at that line.
    config.write_text(
        MOCK_MODEL
        + f'\n[[keys]]\nid = "demo"\nkey_sha256 = "{"a" * 64}"\n'
        + f'previous_key_sha256 = "{DEMO_KEY_SHA256.upper()}"\n'
    )
    assert main(["check", str(config)]) == 0
    assert capsys.readouterr().out.startswith(
        f"{config}:14: warning: key 'demo' accepts the published demo secret sk-demo"
    )


def test_check_warns_of_a_short_admin_key_at_its_line_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing said that `admin` would do as the admin key; its value is never printed."""
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL + '\n[admin]\nkey_env = "CHECK_ADMIN_KEY"\n')
    monkeypatch.setenv("CHECK_ADMIN_KEY", "admin-secret-19chrs")
    assert main(["check", str(config)]) == 0
    warning, ok = capsys.readouterr().out.splitlines()
    assert warning.startswith(
        f"{config}:12: warning: the admin key (CHECK_ADMIN_KEY) is shorter than 20 characters"
    )
    assert "admin-secret-19chrs" not in warning
    monkeypatch.setenv("CHECK_ADMIN_KEY", "admin-secret-20chars")
    assert main(["check", str(config)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_check_of_a_clean_config_prints_only_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL)
    assert main(["check", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {config} (version ")


@pytest.mark.parametrize(
    ("url", "env", "warned"),
    [
        ("redis://gateway:Inl1nePw@10.0.0.5:6379/0", "", True),
        ("redis://:Inl1nePw@10.0.0.5:6379/0", "", True),
        ("redis://gateway@10.0.0.5:6379/0", 'redis_password_env = "CHECK_REDIS_PW"\n', False),
        ("redis://10.0.0.5:6379/0", "", False),
    ],
)
def test_check_warns_of_a_password_written_in_the_redis_url_without_showing_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    env: str,
    warned: bool,
) -> None:
    """Every other secret of the config comes from an environment variable; the Redis password
    had no way but the file (and the version control it sits in)."""
    monkeypatch.setenv("CHECK_REDIS_PW", "from-the-environment")
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nbackend = "redis"\nredis_url = "{url}"\n{env}' + MOCK_MODEL)
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    expected = f"{config}:3: warning: state.redis_url holds a password"
    assert [line.startswith(expected) for line in out.splitlines()[:-1]] == (
        [True] if warned else []
    )
    assert "Inl1nePw" not in out and "from-the-environment" not in out


def test_check_warns_of_a_credential_written_in_a_providers_headers_or_proxy_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API gateway's subscription key written in `headers`, a proxy's password in `proxy`,
    sit in the file and its history; `headers_env` and `proxy_password_env` keep them in the
    environment."""
    monkeypatch.setenv("CHECK_TRACE_KEY", "from-the-environment")
    config = tmp_path / "config.toml"
    config.write_text(
        MOCK_MODEL
        + '[[providers]]\nname = "apim"\ntype = "openai"\n'
        + 'base_url = "https://apim.test/v1?sig=Ur1S1g&api-version=1"\n'  # 13
        + 'proxy = "http://gw:Pr0xyPw@proxy:3128"\n'  # 14
        + "[providers.headers]\n"
        + '"OpenAI-Project" = "proj_1"\n'
        + '"Ocp-Apim-Subscription-Key" = "Wr1ttenK3y"\n'  # 17
        + "[providers.query]\n"
        + 'region = "eu"\n'
        + '"subscription-key" = "Qu3ryK3y"\n'  # 20
        + "[providers.headers_env]\n"
        + '"X-Trace-Key" = "CHECK_TRACE_KEY"\n'
    )
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:-1] == [
        f"{config}:17: warning: header 'Ocp-Apim-Subscription-Key' looks like a credential, "
        "readable by whoever reads this file or its history; keep its value in an environment "
        "variable named by headers_env",
        f"{config}:20: warning: query parameter 'subscription-key' looks like a credential, "
        "readable by whoever reads this file or its history; keep it in an environment "
        "variable named by headers_env, as the header the server also takes it in",
        f"{config}:13: warning: query parameter 'sig' looks like a credential, readable by "
        "whoever reads this file or its history; keep it in an environment variable named by "
        "headers_env, as the header the server also takes it in",
        f"{config}:14: warning: proxy holds a password, readable by whoever reads this file or "
        "its history; keep it in an environment variable named by proxy_password_env (the URL "
        "keeps the user: http://user@proxy:3128)",
    ]
    for secret in ("Wr1ttenK3y", "Qu3ryK3y", "Ur1S1g", "Pr0xyPw", "from-the-environment"):
        assert secret not in out


@pytest.mark.parametrize(
    ("server", "state", "warned"),
    [
        ("[server]\nworkers = 4\n", "", True),
        ("[server]\nworkers = 1\n", "", False),
        ("[server]\nworkers = 4\n", '[state]\nbackend = "redis"\nredis_url = "redis://h"\n', False),
    ],
)
def test_check_warns_that_memory_state_is_per_worker_at_the_workers_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: str, state: str, warned: bool
) -> None:
    """With the memory backend every worker counts limits and budgets by itself: rpm = 3 with
    4 workers admitted 12 requests a minute, and neither check nor serve said so."""
    config = tmp_path / "config.toml"
    config.write_text(server + state + MOCK_MODEL)
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = f'{config}:2: warning: [state] backend = "memory" with 4 workers: each worker'
    assert [line.startswith(expected) for line in out[:-1]] == ([True] if warned else [])
    if warned:
        assert "up to 4 times its limits and budgets" in out[0]


@pytest.mark.parametrize(("flag", "warned"), [("3", True), ("1", False)])
def test_serve_warns_that_memory_state_is_per_worker(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    warned: bool,
) -> None:
    """`--workers` overrides the file, so the start log, not only `check`, must say it."""
    config = tmp_path / "config.toml"
    config.write_text(MOCK_MODEL)
    monkeypatch.setenv(CONFIG_ENV, str(config))  # serve sets it for its workers
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(supervisor, "run_workers", lambda *args, **kwargs: None)
    for name in (MULTIPROC_ENV, RUN_DIR_ENV):  # serve sets them: gone again after the test
        monkeypatch.setenv(name, "")  # (a delenv of an unset variable restores nothing)
        monkeypatch.delenv(name)
    argv = ["serve", "--config", str(config), "--port", "0", "--workers", flag]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert ('backend = "memory" with 3 workers' in err) is warned
