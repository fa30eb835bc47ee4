"""`gateway serve` as a process: what its answers say about the stack, and its exit status.

Run with one worker and with `--workers 2` (uvicorn's supervisor path), each a real process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.raw_client import connect, read_response
from tests.procs import REPO, Proc, start_gateway, start_mock_provider

KEY = "sk-serve-process-test"


def write_config(root: Path, upstream: str) -> Path:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    config = root / "config.toml"
    config.write_text(f"""
[logging]
path = "records.jsonl"

[[providers]]
name = "inproc"
type = "mock"

[[providers]]
name = "net"
type = "openai"
base_url = "{upstream}/v1"

[[models]]
name = "net"
[[models.deployments]]
provider = "net"
model = "plain"

[[models]]
name = "m"
[[models.deployments]]
provider = "inproc"
model = "plain"

[[keys]]
id = "k"
key_sha256 = "{digest}"
""")
    return config


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    """`gateway mock-provider`: an upstream whose answers say `server: uvicorn`, streaming
    50 tokens a second (a stream stays in flight while the gateway is stopped)."""
    proc = start_mock_provider(tokens_per_s=50)
    yield proc
    proc.stop()


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: Proc
) -> Iterator[Proc]:
    config = write_config(tmp_path_factory.mktemp("serve"), upstream.url)
    proc = start_gateway(config, workers=request.param)
    yield proc
    proc.stop()


def raw_head(proc: Proc, request: bytes) -> str:
    with connect(proc) as sock:
        sock.sendall(request)
        status, headers, _ = read_response(sock)
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def test_no_answer_names_the_server_software(gateway: Proc, upstream: Proc) -> None:
    """Every answer used to carry `server: uvicorn`: the app's (200, 401, 404, a stream, one
    from an upstream that names its own server), and the ones the HTTP server writes by itself
    (a request it cannot parse)."""
    assert httpx.get(f"{upstream.url}/healthz").headers["server"] == "uvicorn"
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0) as client:
        chat = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert chat.status_code == 200
        stream = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert stream.status_code == 200
        proxied = client.chat.completions.with_raw_response.create(
            model="net", messages=[{"role": "user", "content": "hi"}]
        )
        assert proxied.headers["x-gateway-deployment"].startswith("net/")
        heads = [dict(chat.headers), dict(stream.headers), dict(proxied.headers)]
        with httpx.Client(base_url=gateway.url) as http:
            for path in ("/healthz", "/v1/models", "/nowhere", "/metrics"):
                heads.append(dict(http.get(path).headers))
        for head in heads:
            assert "server" not in head, head
            assert "x-request-id" in head or "content-type" in head
        unparsable = raw_head(gateway, b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n")
        assert unparsable and "server:" not in unparsable, unparsable


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_drains_and_exits_zero(
    tmp_path: Path, upstream: Proc, workers: int, sig: signal.Signals
) -> None:
    """What Docker, systemd and Kubernetes send: the stream in flight ends, its record is
    written, and the exit status is 0 (it was -15, status 143, with one worker: a failed
    deploy to every orchestrator)."""
    config = write_config(tmp_path, upstream.url)
    proc = start_gateway(config, workers=workers)
    try:
        with openai.OpenAI(base_url=f"{proc.url}/v1", api_key=KEY, max_retries=0) as client:
            stream = client.chat.completions.create(
                model="net", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            chunks = [next(stream)]  # the stream has started: now stop the server
            proc.process.send_signal(sig)
            chunks += list(stream)
            assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
            assert proc.process.wait(60) == 0
            # Its record was written before the exit. (Its status is 200, or now and then 499: the
            # openai SDK may close the connection after `[DONE]` before the chunked body's end.)
            lines = (tmp_path / "records.jsonl").read_text().splitlines()
            assert [json.loads(line)["endpoint"] for line in lines] == ["/v1/chat/completions"]
    finally:
        proc.stop(signal.SIGKILL)


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_a_server_whose_app_cannot_start_exits_non_zero(tmp_path: Path, workers: int) -> None:
    """`[tracing]` without OpenTelemetry importable: the app fails in every worker. With two
    workers uvicorn's supervisor replaced them forever (a traceback a second, nothing served,
    no exit); now the server stops with status 3 once a worker dies before any served."""
    shadow = tmp_path / "shadow" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("not installed here")\n')
    config = write_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text() + '\n[tracing]\nendpoint = "http://127.0.0.1:9/v1"\n')
    path = os.pathsep.join([str(shadow.parent), str(REPO), os.environ.get("PYTHONPATH", "")])
    finished = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", "0"]
        + ["--workers", str(workers)],
        env={**os.environ, "PYTHONPATH": path},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode not in (0, -signal.SIGTERM), finished.stderr[-2000:]
    assert "[tracing] needs the otel extra" in finished.stderr
