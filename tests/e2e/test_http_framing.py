"""Request smuggling and malformed framing against a real gateway, over raw sockets.

Each ambiguous request is followed, in the same write, by a second request a desync would have
the gateway read: the safe answer is one 400 in the route's JSON shape and the connection
closed, that second request never answered. What well-framed but unusual requests get (a
chunk extension, HTTP/1.0, a body on GET) is pinned here too.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from tests.conditions import wait_until
from tests.e2e.hostile_gateway import KEY, start_hostile_gateway
from tests.e2e.raw_client import connect
from tests.e2e.records import read_records
from tests.procs import Proc

AUTH = f"authorization: Bearer {KEY}\r\n".encode()
BODY = b'{"model":"gpt","messages":[{"role":"user","content":"hi"}]}'
CHUNKED_BODY = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
# The request behind each one tested: answered when the one before was framed well; it asks the
# gateway to close after its answer, so a test's read ends then (not at its 5 s timeout).
SMUGGLED = b"GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n" + AUTH + b"\r\n"


def _post(headers: bytes, body: bytes = BODY, path: bytes = b"/v1/chat/completions") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\nhost: x\r\n" + AUTH + headers + b"\r\n" + body


# Requests whose body length a proxy in front and the gateway could read differently.
AMBIGUOUS = {
    "content-length and transfer-encoding": _post(
        b"content-length: %d\r\ntransfer-encoding: chunked\r\n" % len(BODY), CHUNKED_BODY
    ),
    "two equal content-lengths": _post(b"content-length: %d\r\n" % len(BODY) * 2),
    "two content-lengths": _post(b"content-length: %d\r\ncontent-length: 5\r\n" % len(BODY)),
    "content-length list": _post(b"content-length: %d, %d\r\n" % (len(BODY), len(BODY))),
    "signed content-length": _post(b"content-length: +%d\r\n" % len(BODY)),
    "hex content-length": _post(b"content-length: 0x%x\r\n" % len(BODY)),
    "content-length with a space inside": _post(b"content-length: %d 0\r\n" % len(BODY)),
    "content-length past 64 bits": _post(b"content-length: 99999999999999999999999\r\n"),
    "xchunked": _post(b"transfer-encoding: xchunked\r\n", CHUNKED_BODY),
    "gzip not chunked": _post(b"transfer-encoding: gzip\r\n"),
    "chunked, identity": _post(b"transfer-encoding: chunked, identity\r\n", CHUNKED_BODY),
    "identity, chunked": _post(b"transfer-encoding: identity, chunked\r\n", CHUNKED_BODY),
    "identity and chunked on two lines": _post(
        b"transfer-encoding: identity\r\ntransfer-encoding: chunked\r\n", CHUNKED_BODY
    ),
    "two transfer-encodings": _post(b"transfer-encoding: chunked\r\n" * 2, CHUNKED_BODY),
    "space before the colon": _post(b"transfer-encoding : chunked\r\n", CHUNKED_BODY),
    "tab before the colon": _post(b"transfer-encoding\t: chunked\r\n", CHUNKED_BODY),
    "vertical tab in the value": _post(b"transfer-encoding: \x0bchunked\r\n", CHUNKED_BODY),
    "chunk size past 64 bits": _post(
        b"transfer-encoding: chunked\r\n", b"fffffffffffffffffff1\r\n" + CHUNKED_BODY
    ),
    "negative chunk size": _post(b"transfer-encoding: chunked\r\n", b"-" + CHUNKED_BODY),
    "chunk without its CRLF": _post(
        b"transfer-encoding: chunked\r\n", CHUNKED_BODY.replace(b"\r\n0\r\n", b"0\r\n")
    ),
    "a trailer": _post(
        b"transfer-encoding: chunked\r\n", CHUNKED_BODY[:-2] + b"authorization: Bearer x\r\n\r\n"
    ),
    "the key in a trailer": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
    + b"transfer-encoding: chunked\r\n\r\n"
    + CHUNKED_BODY[:-2]
    + AUTH
    + b"\r\n",
    "no final CRLF": _post(b"transfer-encoding: chunked\r\n", CHUNKED_BODY[:-2]),
    "bare LF chunks": _post(b"transfer-encoding: chunked\r\n", CHUNKED_BODY.replace(b"\r", b"")),
    "bare LF head": _post(b"content-length: %d\r\n" % len(BODY)).replace(b"\r\n", b"\n"),
    "bare CR in the head": _post(b"x-a: b\rcontent-length: %d\r\n" % len(BODY)),
    "obs-fold": _post(b"x-a: b\r\n transfer-encoding: chunked\r\ncontent-length: 59\r\n"),
    "NUL in a name": _post(b"x\x00a: b\r\ncontent-length: %d\r\n" % len(BODY)),
    "NUL in a value": _post(b"x-a: b\x00c\r\ncontent-length: %d\r\n" % len(BODY)),
    "control byte in a value": _post(b"x-a: b\x01c\r\ncontent-length: %d\r\n" % len(BODY)),
    "HTTP/1.2": b"GET /v1/models HTTP/1.2\r\nhost: x\r\n" + AUTH + b"\r\n",
    "HTTP/2.0": b"GET /v1/models HTTP/2.0\r\nhost: x\r\n" + AUTH + b"\r\n",
    "HTTP/0.9": b"GET /v1/models\r\n\r\n",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("framing")
    proc = start_hostile_gateway(root, mock_upstream)
    proc.log_path = root / "requests.jsonl"
    yield proc
    proc.stop()


def _exchange(proc: Proc, data: bytes) -> tuple[list[int], bytes, bool]:
    """The statuses answered to `data`, what was read, and whether the gateway closed."""
    with connect(proc, timeout_s=5) as sock:
        sock.sendall(data)
        read = b""
        closed = False
        while not closed:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break  # still open: what was answered is all there is
            closed = not chunk
            read += chunk
    return [int(s) for s in re.findall(rb"HTTP/1\.[01] (\d{3}) ", read)], read, closed


@pytest.mark.parametrize("request_bytes", AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
def test_ambiguous_framing_gets_one_400_and_the_connection_closes(
    gateway: Proc, request_bytes: bytes
) -> None:
    statuses, read, closed = _exchange(gateway, request_bytes + SMUGGLED)
    assert statuses == [400], read[:300]
    assert b"content-type: application/json" in read
    assert b'"code":"invalid_http_request"' in read
    assert closed


def test_a_broken_chunk_on_the_anthropic_route_is_refused_in_its_shape_and_recorded(
    gateway: Proc,
) -> None:
    log = gateway.log_path
    assert log is not None
    head = _post(b"transfer-encoding: chunked\r\n", b"", b"/v1/messages")
    with connect(gateway) as sock:
        sock.sendall(head + b"%x\r\n{" % 1)  # the app waits inside the body
        sock.sendall(b"\r\nzz\r\n" + SMUGGLED)
        read = b""
        while chunk := sock.recv(65536):
            read += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", read) == [b"400"]
    assert b'"type":"error"' in read
    wait_until(
        lambda: [
            r for r in read_records(log) if r["status"] == 400 and r["endpoint"] == "/v1/messages"
        ],
        5,
        message="no record of the 400",
    )


WELL_FRAMED = {
    "Chunked": (_post(b"transfer-encoding: Chunked\r\n", CHUNKED_BODY), [200, 200]),
    "chunk extension": (
        _post(b"transfer-encoding: chunked\r\n", b"%x;a=b\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)),
        [200, 200],
    ),
    "GET with a body": (
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n" + AUTH + b"\r\nabc",
        [200, 200],
    ),
    "HTTP/1.0 closes after its answer": (b"GET /v1/models HTTP/1.0\r\n" + AUTH + b"\r\n", [200]),
    "connection: close": (
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n" + AUTH + b"\r\n",
        [200],
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "statuses"), WELL_FRAMED.values(), ids=WELL_FRAMED.keys()
)
def test_well_framed_requests_are_served_and_their_neighbours_too(
    gateway: Proc, request_bytes: bytes, statuses: list[int]
) -> None:
    answered, read, _ = _exchange(gateway, request_bytes + SMUGGLED)
    assert answered == statuses, read[:300]


def test_a_body_refused_by_its_content_length_is_never_read(gateway: Proc) -> None:
    """413 before the body, no `100 Continue`, and the body that follows anyway is not parsed
    for the next request (it was read to its end and the request behind it answered)."""
    size = 17 * 1024 * 1024  # past the hostile gateway's 16 MiB max_body_bytes
    head = _post(b"expect: 100-continue\r\ncontent-length: %d\r\n" % size, b"")
    with connect(gateway, timeout_s=5) as sock:
        sock.sendall(head)
        read = sock.recv(65536)
        assert read.startswith(b"HTTP/1.1 413 "), read[:100]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b" " * size + SMUGGLED)
        closed = False
        while not closed:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break  # still open
            except ConnectionResetError:
                chunk = b""
            closed = not chunk
            read += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", read) == [b"413"]
    assert b"\r\nconnection: close\r\n" in read.partition(b"\r\n\r\n")[0] + b"\r\n", read[:300]
    assert closed


@pytest.mark.parametrize("key", [b"", b"authorization: Bearer sk-wrong\r\n"])
def test_a_request_without_a_valid_key_is_refused_before_its_body(
    gateway: Proc, key: bytes
) -> None:
    """401 with no `100 Continue` and no body read (it was sent 100 Continue, and waited for)."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n"
    with connect(gateway) as sock:
        sock.sendall(head + key + b"content-length: 1000\r\n\r\n")
        read = b""
        while chunk := sock.recv(65536):
            read += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", read) == [b"401"], read[:200]
    # It says so: a client would otherwise send its next request on a connection that closes.
    assert b"\r\nconnection: close\r\n" in read.partition(b"\r\n\r\n")[0] + b"\r\n", read[:300]


@pytest.mark.parametrize(
    "keys",
    [
        f"authorization: Bearer {KEY}\r\nauthorization: Bearer {KEY}x\r\n",
        f"authorization: Bearer {KEY}x\r\nauthorization: Bearer {KEY}\r\n",
        f"authorization: Bearer {KEY}\r\nauthorization: Bearer {KEY}\r\n",
    ],
    ids=["valid then other", "other then valid", "the same twice"],
)
def test_a_key_sent_in_several_headers_is_refused(gateway: Proc, keys: str) -> None:
    """Neither line is taken (the last one was): a proxy in front that adds its own key
    before or after the client's must not find the client's chosen instead."""
    request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
    request += keys.encode() + b"content-length: %d\r\n\r\n" % len(BODY) + BODY
    statuses, read, _ = _exchange(gateway, request)
    assert statuses == [401], read[:300]
    assert b"several headers" in read
