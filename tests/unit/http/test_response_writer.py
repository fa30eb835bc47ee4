"""`WritingCycle` against uvicorn's own cycle, the contract of the gateway's response writer: for
every head and the body messages after it, the same writes (bytes and boundaries), the same
error raised and the same cycle state (completed, closed, the next request let in)."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from gateway.config.types import ResponseWriterName, ServerConfig
from gateway.http import protocol as protocol_module
from gateway.http.response_writer import WritingCycle, plain_head
from tests.unit.http.protocol_harness import Transport, protocol

DATE = (b"date", b"Sun, 06 Dec 2026 13:40:00 GMT")
# A gateway chat answer's head with key limits, as the gateway sends it.
GATEWAY_HEADERS = [
    (b"content-length", b"512"),
    (b"content-type", b"application/json"),
    (b"x-request-id", b"req_0123456789abcdef"),
    (b"x-gateway-cache", b"miss"),
    (b"x-gateway-deployment", b"mock-1"),
    (b"x-gateway-attempts", b"1"),
    (b"x-ratelimit-limit-requests", b"100000000"),
    (b"x-ratelimit-remaining-requests", b"99999999"),
    (b"x-ratelimit-reset-requests", b"0s"),
    (b"server-timing", b"gateway;dur=0.123, upstream;dur=0.456"),
]
STATE = (
    "response_started",
    "disconnected",
    "response_complete",
    "chunked_encoding",
    "expected_content_length",
    "keep_alive",
    "waiting_for_100_continue",
)


class Writes(Transport):
    """Each write apart: the coalescing transport (coalescing.py) tells a head by its write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))


def _cycle(
    kind: type[RequestResponseCycle], *, method: str, keep_alive: bool, default: list[Any]
) -> tuple[RequestResponseCycle, Writes, list[str]]:
    transport = Writes()
    completed: list[str] = []
    cycle = kind(
        scope={"method": method, "type": "http"},  # type: ignore[typeddict-item]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=default,
        message_event=asyncio.Event(),
        expect_100_continue=True,
        keep_alive=keep_alive,
        on_response=lambda: completed.append("next request"),
    )
    return cycle, transport, completed


async def _run(cycle: RequestResponseCycle, messages: list[dict[str, Any]]) -> tuple[object, ...]:
    """What `cycle` does with `messages`: the error it raises (type and text), else None."""
    for message in messages:
        try:
            await cycle.send(message)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 - the error itself is compared
            return (type(error), str(error))
    return (None,)


def _both(
    status: object,
    headers: list[Any],
    *,
    method: str = "POST",
    keep_alive: bool = True,
    default: list[Any] | None = None,
    body: bytes = b"",
    bodies: list[dict[str, Any]] | None = None,
) -> tuple[object, ...]:
    """uvicorn's and ours on the same head and body messages (`bodies`, else one `body`):
    asserted alike; returns what uvicorn did (outcome, writes, ...)."""
    start = {"type": "http.response.start", "status": status, "headers": headers}
    after = bodies if bodies is not None else [{"type": "http.response.body", "body": body}]
    messages: list[dict[str, Any]] = [start, *after]
    defaults = [DATE] if default is None else default
    seen = []
    for kind in (RequestResponseCycle, WritingCycle):
        cycle, transport, completed = _cycle(
            kind, method=method, keep_alive=keep_alive, default=defaults
        )
        outcome = asyncio.run(_run(cycle, messages))
        state = tuple(getattr(cycle, name) for name in STATE)
        events = (cycle.message_event.is_set(), completed)
        seen.append((outcome, transport.writes, transport.closed, *state, *events))
    assert seen[1] == seen[0]
    return seen[0]


def _chunks(*parts: bytes, end: bool = True) -> list[dict[str, Any]]:
    """Body messages: `parts` with `more_body`, then an empty last one when `end`."""
    messages = [{"type": "http.response.body", "body": part, "more_body": True} for part in parts]
    return messages + ([{"type": "http.response.body", "body": b""}] if end else [])


def test_the_gateway_head_is_written_by_the_joined_checks_byte_for_byte() -> None:
    assert plain_head([DATE, *GATEWAY_HEADERS]) is not None  # the fast path is the one tested
    outcome, writes, *_ = _both(200, GATEWAY_HEADERS, body=b"x" * 512)
    assert outcome == (None,)
    assert isinstance(writes, list) and len(writes) == 2  # the head, then the body
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\ndate: ")
    assert b"\r\nx-ratelimit-reset-requests: 0s\r\n" in writes[0]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Content-Type", b"text/plain")],  # capitals: uvicorn lowers the name
        [(b"x bad", b"1")],  # not a token
        [(b"x-bad\r\nx-injected", b"1")],
        [(b"x-value", b"a\r\nx-injected: 1")],  # header injection through a value
        [(b"x-value", b"a\x00b")],
        [(b"x-value", b"a\x7fb")],
        [(b"x-value", b"tab\tand latin-1 \xe9")],  # allowed
        [(b"content-length", b"3"), (b"content-length", b"3")],
        [(b"content-length", b"+3")],  # int() takes it; the joined checks leave it to uvicorn
        [(b"content-length", b" 3")],
        [(b"content-length", b"three")],
        [(b"content-length", b"")],
        [(b"content-length", b"2")],  # shorter than the body
        [(b"content-length", b"9")],  # longer than the body
        [(b"transfer-encoding", b"chunked")],
        [(b"transfer-encoding", b"gzip")],
        [(b"connection", b"close")],
        [(b"connection", b"keep-alive, Close")],
        [(b"x-connection-id", b"7"), (b"x-content-length", b"3")],  # false alarms
        [(b"x-content", b"1"), (b"-length", b"3")],
        [[b"content-type", b"text/plain"]],  # pairs as lists
        [(b"content-type", b"text/plain", b"extra")],
        [(b"content-type", b"text/plain", 3)],
        [("content-type", "text/plain")],  # str, not bytes
        [(b"content-type", "text/plain")],
        [],
    ],
)
def test_every_other_head_is_written_or_refused_as_uvicorn_does(headers: list[Any]) -> None:
    _both(200, headers, body=b"abc")
    _both(200, headers, body=b"abc", default=[])


@pytest.mark.parametrize(
    ("status", "method", "keep_alive"),
    [
        (200, "HEAD", True),
        (204, "POST", True),
        (304, "GET", True),
        (299, "POST", True),  # no reason phrase
        (200, "POST", False),  # connection: close added
        (600, "POST", True),
        ("200", "POST", True),
        (True, "POST", True),
    ],
)
def test_status_method_and_keep_alive_are_honoured_alike(
    status: object, method: str, keep_alive: bool
) -> None:
    for headers in ([(b"content-type", b"text/plain")], [(b"content-length", b"0")]):
        _both(status, headers, method=method, keep_alive=keep_alive)


def test_random_heads_are_written_alike() -> None:
    rng = random.Random(20261206)
    names = [b"content-length", b"content-type", b"x-id", b"connection", b"Transfer-Encoding"]
    name_bytes = b"ab-Z0 :\r\n\x7f\xe9"
    value_bytes = b"a0 ,;\t\r\n\x00\x7f\xe9"
    fast = 0
    for _ in range(400):
        headers = []
        for _ in range(rng.randrange(1, 6)):
            name = rng.choice(names) if rng.random() < 0.7 else _draw(rng, name_bytes)
            value = (
                rng.choice([b"0", b"3", b"chunked", b"close"])
                if rng.random() < 0.7
                else (_draw(rng, value_bytes))
            )
            headers.append((name, value))
        fast += plain_head([DATE, *headers]) is not None
        _both(rng.choice([200, 204, 404]), headers, body=b"abc", keep_alive=rng.random() < 0.8)
    assert fast >= 25  # the fast path took a share of them (30 of this seed's 400), not none


def _draw(rng: random.Random, alphabet: bytes) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 8)))


@pytest.mark.parametrize(
    ("writer", "cycle"), [("auto", WritingCycle), ("uvicorn", RequestResponseCycle)]
)
def test_the_protocol_starts_each_request_on_the_configured_writer(
    writer: ResponseWriterName, cycle: type[RequestResponseCycle], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol_module, "mirrors_installed_uvicorn", lambda: True)

    async def main() -> type[object]:
        served, transport = protocol(ServerConfig(response_writer=writer))
        served.data_received(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n")
        await asyncio.sleep(0)  # the request's task starts
        assert served.cycle is not None
        assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
        return type(served.cycle)

    assert asyncio.run(main()) is cycle


STREAM_HEADERS = [(b"content-type", b"text/event-stream"), (b"x-request-id", b"req_1")]


@pytest.mark.parametrize(
    ("headers", "bodies"),
    [
        (STREAM_HEADERS, _chunks(b"data: 1\n\n", b"data: 2\n\n")),  # a stream, chunked
        (STREAM_HEADERS, _chunks(b"data: %s\n\n" % (b"z" * 18))),  # a size in hex letters
        (STREAM_HEADERS, _chunks(b"data: 1\n\n", b"", b"data: 2\n\n")),  # an empty chunk
        (STREAM_HEADERS, [{"type": "http.response.body", "body": b"all", "more_body": False}]),
        (STREAM_HEADERS, [{"type": "http.response.body"}]),  # no body key
        (STREAM_HEADERS, _chunks(b"x", end=False)),  # never ended
        ([(b"content-length", b"6")], _chunks(b"abc", b"def")),  # in parts
        ([(b"content-length", b"6")], _chunks(b"abc", b"de")),  # short: refused at the end
        ([(b"content-length", b"6")], _chunks(b"abcdefg")),  # long: refused
        ([(b"content-length", b"0")], _chunks()),
        ([(b"transfer-encoding", b"chunked")], _chunks(b"ab", b"c")),  # uvicorn's head, ours after
        (STREAM_HEADERS, [*_chunks(b"x"), {"type": "http.response.body", "body": b"late"}]),
        (STREAM_HEADERS, [{"type": "http.response.start", "status": 200, "headers": []}]),
        (STREAM_HEADERS, [{"type": "http.response.trailers"}]),
        (STREAM_HEADERS, [{"type": "http.response.body", "body": bytearray(b"ba")}]),
        (STREAM_HEADERS, [{"type": "http.response.body", "body": memoryview(b"mv")}]),
    ],
)
@pytest.mark.parametrize("keep_alive", [True, False])
def test_bodies_are_framed_completed_or_refused_as_uvicorn_does(
    headers: list[Any], bodies: list[dict[str, Any]], keep_alive: bool
) -> None:
    _both(200, headers, bodies=bodies, keep_alive=keep_alive)
    _both(200, headers, bodies=bodies, keep_alive=keep_alive, method="HEAD")


def test_a_connection_gone_or_paused_is_left_to_uvicorn() -> None:
    async def main() -> list[bytes]:
        cycle, transport, _ = _cycle(WritingCycle, method="POST", keep_alive=True, default=[])
        cycle.flow.pause_writing()  # uvicorn waits for the drain before it writes
        start = {"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS}
        sending = asyncio.ensure_future(cycle.send(start))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert not sending.done() and transport.writes == []
        cycle.flow.resume_writing()
        await sending
        cycle.disconnected = True  # the client left: nothing more is written
        await cycle.send({"type": "http.response.body", "body": b"x"})
        return transport.writes

    assert len(asyncio.run(main())) == 1
