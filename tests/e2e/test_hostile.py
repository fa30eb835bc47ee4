"""A hostile client against a real gateway process: raw sockets, as an attacker would send.

Huge and numerous headers (431, with the gateway's memory measured), slow heads and bodies
(408), more connections than allowed (503), control characters the HTTP parser refuses, absurd
`max_tokens`, deeply nested JSON, clients that leave mid-upload, 10 MB single-character prompts
on a tpm-limited key while /healthz is timed, a policies directory swapped under the watcher,
and a SIGKILL with `[logging] record_batch_ms = 0`. Issue 21, findings 3, 4, 7, 8 and 9.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conditions import wait_until
from tests.e2e.hostile_gateway import (
    KEY,
    SWAP_KEY,
    TIGHT_KEY,
    MiB,
    start_hostile_gateway,
)
from tests.e2e.raw_client import connect, read_response, refusal
from tests.e2e.records import read_records
from tests.procs import Proc


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("hostile")
    proc = start_hostile_gateway(root, mock_upstream)
    proc.log_path = root / "requests.jsonl"
    yield proc
    proc.stop()


def _gateway_rss(proc: Proc) -> int:
    return int(psutil.Process(proc.process.pid).memory_info().rss)


# Finding 3: header size and count, head and body deadlines, connection cap.


def test_a_200_mb_header_is_refused_while_it_is_read(gateway: Proc) -> None:
    before = _gateway_rss(gateway)
    chunk = b"a" * MiB
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ")
        sent = 0
        while sent < 200 * MiB and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, body = refusal(sock)
    assert status == 431
    assert body["error"]["code"] == "headers_too_large"
    assert sent < 200 * MiB, "the whole header was accepted"
    growth = _gateway_rss(gateway) - before
    assert growth < 20 * MiB, f"RSS grew {growth / MiB:.1f} MiB"


@pytest.mark.parametrize(
    ("path", "shape"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")]
)
def test_too_many_headers_get_431_in_the_route_s_shape(
    gateway: Proc, path: str, shape: str
) -> None:
    headers = "".join(f"x-h{i}: v\r\n" for i in range(101))
    with connect(gateway) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\n{headers}\r\n".encode())
        status, body = refusal(sock)
    assert status == 431
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["code"] == "headers_too_large"


def test_the_asterisk_target_gets_the_json_404(gateway: Proc) -> None:
    """`OPTIONS *` matched no route, not even the catch-all: Starlette's plain-text 404."""
    for method in ("OPTIONS", "GET", "POST"):
        with connect(gateway) as sock:
            sock.sendall(f"{method} * HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode())
            status, body = refusal(sock)
        assert status == 404 and body["error"]["code"] == "unknown_route"


def test_slowloris_heads_get_408_after_the_header_deadline(gateway: Proc) -> None:
    socks = [connect(gateway) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
        for sock in socks:
            status, body = refusal(sock)  # the deadline is 1 s; the socket waits up to 10
            assert status == 408 and body["error"]["code"] == "request_timeout"
            assert sock.recv(1) == b""  # and the connection is closed
    finally:
        for sock in socks:
            sock.close()
    metrics = httpx.get(gateway.url + "/metrics").text
    counted = next(
        line
        for line in metrics.splitlines()
        if line.startswith('gateway_http_refusals_total{reason="header_timeout"}')
    )
    assert float(counted.rsplit(" ", 1)[1]) >= 20


def test_a_body_at_one_byte_per_second_gets_408_and_a_record(gateway: Proc) -> None:
    log = gateway.log_path
    assert log is not None
    with connect(gateway) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            + f"authorization: Bearer {KEY}\r\ncontent-length: 1000\r\n\r\n{{".encode()
        )
        sock.settimeout(1.0)  # the pace of the trickle: one byte when a second passes
        for _ in range(8):
            try:
                ready = sock.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                sock.sendall(b" ")
                continue
            assert ready
            break
        sock.settimeout(10)
        status, body = refusal(sock)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    wait_until(
        lambda: [r for r in read_records(log) if r["status"] == 408],
        5,
        message="no record of the 408",
    )


def test_connections_past_max_connections_get_503(gateway: Proc) -> None:
    opened: list[socket.socket] = []
    try:
        refused: tuple[int, dict[str, Any], dict[str, str]] | None = None
        for _ in range(40):
            sock = connect(gateway)
            opened.append(sock)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            status, headers, body = read_response(sock)
            if status != 200:
                refused = (status, json.loads(body), headers)
                break
        assert refused is not None, "40 connections were all served"
        status, error, headers = refused
        assert len(opened) <= 33
        assert status == 503 and error["error"]["code"] == "too_many_connections"
        assert headers["retry-after"] == "1"
    finally:
        for sock in opened:
            sock.close()
    wait_until(
        lambda: httpx.get(gateway.url + "/healthz").status_code == 200, 5, 0.02, "still refused"
    )
    reached = [line for line in gateway.output if "max_connections (32) reached" in line]
    assert len(reached) == 1


# Finding 4: a tpm-limited key's 10 MB prompts do not stall other requests.


# Sends 10 MB single-character prompts with the tpm-limited key until killed, one status a line.
_FLOOD = """
import sys, httpx
url, key = sys.argv[1], sys.argv[2]
text = b"a" * (10 << 20)
prompt = b'{"model": "gpt", "messages": [{"role": "user", "content": "' + text + b'"}]}'
with httpx.Client(base_url=url, timeout=60) as client:
    while True:
        try:
            response = client.post("/v1/chat/completions", content=prompt,
                                   headers={"authorization": "Bearer " + key})
            print(response.status_code, flush=True)
        except httpx.HTTPError as exc:
            print(type(exc).__name__, flush=True)
"""


def _healthz_p99_ms(proc: Proc, samples: int = 100) -> float:
    timings = []
    with httpx.Client(base_url=proc.url, timeout=30) as client:
        for _ in range(samples):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            timings.append(time.perf_counter() - started)
            time.sleep(0.01)
    timings.sort()
    return timings[int(len(timings) * 0.99)] * 1000


def _cpu_slowdown() -> float:
    """Wall time over CPU time of a fixed CPU-bound task here: 1 on an idle machine, 4 when
    the processes share the cores with three times their number of busy others."""
    data = b"x" * (4 << 20)
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(4):
        hashlib.sha256(data).digest()
    return max(1.0, (time.perf_counter() - wall) / max(time.thread_time() - cpu, 1e-6))


def test_healthz_stays_fast_while_a_tpm_key_sends_10_mb_prompts(gateway: Proc) -> None:
    rss_before = _gateway_rss(gateway)
    flood = subprocess.Popen(
        [sys.executable, "-c", _FLOOD, gateway.url, TIGHT_KEY], stdout=subprocess.PIPE, text=True
    )
    rounds: list[tuple[float, float]] = []
    try:
        assert flood.stdout is not None
        first = flood.stdout.readline().strip()  # the flood is on
        # Three rounds, each with the machine's CPU contention measured around it: a busy
        # 2-core machine stretches every stall by that factor, on main as with the fix. The
        # bound holds for the least contended round, as measured on an idle machine.
        for _ in range(3):
            before = _cpu_slowdown()
            p99 = _healthz_p99_ms(gateway)
            rounds.append((p99, (before + _cpu_slowdown()) / 2))
            if p99 / rounds[-1][1] < 50:
                break
    finally:
        flood.kill()
        flood.wait(10)
        if flood.stdout is not None:
            statuses = {first, *flood.stdout.read().split()}
            flood.stdout.close()
    assert statuses == {"429"}  # 2.5 M tokens estimated, tpm 100 k
    # Each refused request lets go of its 20 MB (raw and parsed) when it ends: they used to wait
    # in garbage cycles for a full collection, 220 MB more every second of the flood.
    grown = _gateway_rss(gateway) - rss_before
    assert grown < 300 * 2**20, f"RSS grew {grown >> 20} MB during the flood"
    best = min(p99 / slowdown for p99, slowdown in rounds)
    assert best < 50, f"/healthz p99 (ms, CPU slowdown) {rounds}"


# Finding 7: nesting past what the gateway can serialise is refused when parsed.


def _nested_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/messages"])
def test_deeply_nested_bodies_get_400_naming_the_limit(gateway: Proc, route: str) -> None:
    messages = [{"role": "user", "content": "hi"}]
    deep_array = (
        '{"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "x": '
        + "[" * 300
        + "]" * 300
        + "}"
    )
    if route == "/v1/messages":
        tool: dict[str, Any] = {"name": "f", "input_schema": _nested_schema(200)}
    else:
        tool = {"type": "function", "function": {"name": "f", "parameters": _nested_schema(200)}}
    deep_tools = json.dumps(
        {"model": "gpt", "max_tokens": 5, "messages": messages, "tools": [tool]}
    )
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    for body in (deep_array, deep_tools):
        response = httpx.post(gateway.url + route, content=body, headers=headers)
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert "128" in message and "levels" in message


# Finding 8: the policy watcher survives a directory swap.


def test_a_policy_edit_after_a_directory_swap_applies_within_a_second(gateway: Proc) -> None:
    assert gateway.log_path is not None
    policies = gateway.log_path.parent / "policies"

    def rpm_limit() -> str:
        response = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {SWAP_KEY}"},
        )
        limit: str = response.headers.get("x-ratelimit-limit-requests", "")
        return limit

    assert rpm_limit() == "1000"
    os.rename(policies, policies.with_name("p"))
    os.rename(policies.with_name("p"), policies)
    (policies / "swappable.toml").write_text("[limits]\nrpm = 7\n")
    wait_until(lambda: rpm_limit() == "7", 1.0, 0.02, "the edit after the swap never applied")


# Finding 9: the smaller ones.


def test_max_tokens_2_to_the_63_gets_400_not_429(gateway: Proc) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt", "max_tokens": 2**63, "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": f"Bearer {TIGHT_KEY}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "max_tokens"


@pytest.mark.parametrize(
    ("path", "shape"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")]
)
def test_a_control_character_in_authorization_gets_a_json_400(
    gateway: Proc, path: str, shape: str
) -> None:
    with connect(gateway) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\x01b\r\n"
            "content-length: 2\r\n\r\n{}".encode()
        )
        status, body = refusal(sock)
    assert status == 400
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["code"] == "invalid_http_request"


def test_a_client_leaving_during_the_upload_logs_no_traceback(gateway: Proc) -> None:
    log = gateway.log_path
    assert log is not None
    seen = len(read_records(log))
    with connect(gateway) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            + f"authorization: Bearer {KEY}\r\ncontent-length: 1000\r\n\r\n{{".encode()
            + b" " * 100
        )
    record = wait_until(
        lambda: next((r for r in read_records(log)[seen:] if r["status"] == 499), None),
        5,
        message="no record of the request the client left",
    )
    assert record["error_type"] == "client_closed"
    output = "".join(gateway.output)
    assert "Traceback" not in output and "ERROR" not in output


def test_with_record_batch_0_a_sigkill_loses_no_answered_request(
    tmp_path: Path, mock_upstream: Proc
) -> None:
    log_path = tmp_path / "requests.jsonl"
    proc = start_hostile_gateway(tmp_path, mock_upstream, "record_batch_ms = 0\n")
    try:
        ids = []
        with httpx.Client(base_url=proc.url, headers={"authorization": f"Bearer {KEY}"}) as client:
            for _ in range(20):
                response = client.post(
                    "/v1/chat/completions",
                    json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
                )
                ids.append(response.headers["x-request-id"])
            # Served by the same loop after the last answer ended: its record is written.
            assert client.get("/healthz").status_code == 200
        proc.process.send_signal(signal.SIGKILL)
        proc.process.wait(10)
    finally:
        proc.stop(signal.SIGKILL)
    assert [r["id"] for r in read_records(log_path)] == ids
