"""The network transport contract: what both network clients (`http1`, `httpx`) do against
upstreams that misbehave on the wire and over TLS with a private CA (through proxies:
test_network_contract_proxies.py).

Where `http1` does not support what a test needs (HTTP/2), its run asserts that `auto` never
gives it such a provider, instead of skipping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.upstream import UpstreamError, UpstreamRequest
from gateway.upstream.base import UpstreamRedirect, UpstreamTLSError, UpstreamTooLarge
from gateway.upstream.transports import ConcreteTransport
from tests.unit.upstream.bombs import MARGIN, MiB, bomb
from tests.unit.upstream.network_clients import DIRECT, TIMEOUTS, Client, send, served_by
from tests.unit.upstream.network_servers import (
    PrivateCA,
    always,
    chunk,
    compressed,
    compressor,
    h2_server,
    private_ca,
    response,
    scripted_server,
)

SSE = "content-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"


# -- connections ---------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(transport: ConcreteTransport) -> None:
    async with scripted_server(always(response(200, b"ok"))) as (url, seen):
        async with Client(transport) as client:
            assert [await send(client, url) for _ in range(3)] == [b"ok"] * 3
    assert seen.connections == 1 and len(seen.requests) == 3


async def test_an_idle_connection_the_upstream_dropped_is_not_reused(
    transport: ConcreteTransport,
) -> None:
    # Answers with keep-alive, then closes while the client holds the connection idle.
    async with scripted_server(always(response(200, b"ok"), None)) as (url, seen):
        async with Client(transport) as client:
            assert await send(client, url) == b"ok"
            await asyncio.wait_for(seen.closed.wait(), 5)
            assert await send(client, url) == b"ok"
    assert seen.connections == 2


async def test_connection_close_is_honoured(transport: ConcreteTransport) -> None:
    async with scripted_server(always(response(200, b"ok", "connection: close\r\n"), None)) as (
        url,
        seen,
    ):
        async with Client(transport) as client:
            assert [await send(client, url) for _ in range(2)] == [b"ok"] * 2
    assert seen.connections == 2


async def test_chunked_with_trailers_then_the_connection_is_reused(
    transport: ConcreteTransport,
) -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n"
    body = chunk(b"hello ") + chunk(b"world") + b"0\r\nx-checksum: abc\r\n\r\n"
    async with scripted_server(always(head, body)) as (url, seen):
        async with Client(transport) as client:
            assert [await send(client, url) for _ in range(2)] == [b"hello world"] * 2
    assert seen.connections == 1


async def test_a_protocol_switch_is_a_protocol_error(transport: ConcreteTransport) -> None:
    """`101 Switching Protocols` (to a WebSocket the gateway never asked for): the attempt fails
    as a protocol error, and nothing escapes to the event loop (no "Fatal error on transport"
    traceback in the log)."""
    switch = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
    escaped: list[object] = []

    def record(_: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        if not isinstance(context.get("exception"), asyncio.CancelledError):  # the server's end
            escaped.append(context.get("exception"))

    asyncio.get_running_loop().set_exception_handler(record)
    async with scripted_server(always(switch + b"\r\n\x81\x05hello")) as (url, _):
        async with Client(transport) as client:
            for _ in range(2):  # the failed connection is not pooled: the second is fresh
                with pytest.raises(UpstreamError) as caught:
                    await send(client, url)
                assert caught.value.kind == "protocol"
    assert escaped == []


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_compressed_answers_are_decoded(transport: ConcreteTransport, encoding: str) -> None:
    data = b'{"text": "' + b"tokens " * 500 + b'"}'
    answer = response(200, compressed(encoding, data), f"content-encoding: {encoding}\r\n")
    async with scripted_server(always(answer)) as (url, _):
        async with Client(transport) as client:
            assert await send(client, url) == data


@pytest.mark.parametrize(("encoding", "body"), [("lzma", b"xyz"), ("gzip", b"not gzip at all")])
async def test_a_body_no_decoder_can_read_is_a_protocol_error(
    transport: ConcreteTransport, encoding: str, body: bytes
) -> None:
    """Never passed on as it is: the client could not read it either (httpx used to)."""
    answer = response(200, body, f"content-encoding: {encoding}\r\n")
    async with scripted_server(always(answer)) as (url, _):
        async with Client(transport) as client:
            with pytest.raises(UpstreamError) as caught:
                await send(client, url)
    assert caught.value.kind == "protocol"


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_a_compressed_stream_is_decoded_event_by_event(
    transport: ConcreteTransport, encoding: str
) -> None:
    """Each event arrives decoded before the upstream sends the next one."""
    pack = compressor(encoding)
    delivered = asyncio.Event()

    async def script(head: bytes, body: bytes) -> AsyncIterator[bytes | None]:
        yield f"HTTP/1.1 200 OK\r\ncontent-encoding: {encoding}\r\n{SSE}\r\n".encode()
        yield chunk(pack(b"data: 1\n\n", False))
        await asyncio.wait_for(delivered.wait(), 5)
        yield chunk(pack(b"data: 2\n\n", True)) + b"0\r\n\r\n"

    async with scripted_server(script) as (url, _):
        async with Client(transport) as client:
            answer = await client.send(UpstreamRequest("POST", url, {}, b"{}"), TIMEOUTS)
            received = b""
            async for piece in answer.iter_chunks():
                received += piece
                if received == b"data: 1\n\n":
                    delivered.set()
            await answer.aclose()
    assert received == b"data: 1\n\ndata: 2\n\n"


async def test_a_slow_trickle_stream_arrives_whole(transport: ConcreteTransport) -> None:
    events = b"".join(b'data: {"n": %d}\n\n' % n for n in range(3)) + b"data: [DONE]\n\n"

    async def script(head: bytes, body: bytes) -> AsyncIterator[bytes | None]:
        yield f"HTTP/1.1 200 OK\r\n{SSE}\r\n".encode()
        for start in range(0, len(events), 4):  # a few bytes at a time, with pauses
            await asyncio.sleep(0.002)
            yield chunk(events[start : start + 4])
        yield b"0\r\n\r\n"

    async with scripted_server(script) as (url, _):
        async with Client(transport) as client:
            answer = await client.send(UpstreamRequest("POST", url, {}, b"{}"), TIMEOUTS)
            pieces = [piece async for piece in answer.iter_chunks()]
            assert answer.body_complete
            await answer.aclose()
    assert b"".join(pieces) == events and len(pieces) > 3


async def test_a_redirect_is_an_error_naming_the_location(transport: ConcreteTransport) -> None:
    moved = response(307, b"", "location: https://elsewhere.test/v1/chat?sig=secret\r\n")
    async with scripted_server(always(moved)) as (url, seen):
        async with Client(transport) as client:
            with pytest.raises(UpstreamRedirect) as caught:
                await send(client, url)
    assert caught.value.kind == "redirect" and caught.value.status == 307
    assert "https://elsewhere.test/v1/chat" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert len(seen.requests) == 1  # not followed


@pytest.mark.parametrize("shape", ["length", "chunked", "gzip bomb"])
async def test_a_body_over_max_response_bytes_is_refused(
    transport: ConcreteTransport, shape: str
) -> None:
    big = b"x" * 200_000
    if shape == "length":
        pieces: tuple[bytes, ...] = (response(200, big),)
    elif shape == "chunked":
        head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        pieces = (head, *(chunk(big[i : i + 10_000]) for i in range(0, len(big), 10_000)))
    else:
        pieces = (response(200, compressed("gzip", big), "content-encoding: gzip\r\n"),)
    network = dataclasses.replace(DIRECT, max_response_bytes=50_000)
    async with scripted_server(always(*pieces, b"0\r\n\r\n" if shape == "chunked" else b"")) as (
        url,
        _,
    ):
        async with Client(transport, network) as client:
            with pytest.raises(UpstreamTooLarge) as caught:
                await send(client, url)
            assert caught.value.kind == "too_large" and "50000" in str(caught.value)
            # The same client still serves a body within the limit.
    async with scripted_server(always(response(200, b"small"))) as (url, _):
        async with Client(transport, network) as client:
            assert await send(client, url) == b"small"


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_a_compression_bomb_is_refused_holding_about_the_cap(
    transport: ConcreteTransport, encoding: str
) -> None:
    """64 MiB of zeros, well under 1 MiB compressed, against a 1 MiB cap: decoded only as far
    as the cap (httpx's own decoders would expand each 64 KiB read to some 64 MiB first)."""
    answer = response(200, bomb(encoding), f"content-encoding: {encoding}\r\n")
    network = dataclasses.replace(DIRECT, max_response_bytes=MiB)
    async with scripted_server(always(answer)) as (url, _):
        async with Client(transport, network) as client:
            tracemalloc.start()
            try:
                with pytest.raises(UpstreamTooLarge):
                    await send(client, url)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert peak < MiB + MARGIN, f"{peak / MiB:.1f} MiB held for a 1 MiB cap"


@pytest.mark.parametrize("apart", [False, True])
async def test_a_stream_over_max_response_bytes_passes_on_what_fits(
    transport: ConcreteTransport, apart: bool
) -> None:
    """Three 100-byte events under a 250-byte cap: the first 250 bytes arrive, then the error,
    whether the events come in one read or apart (as a model streams them)."""
    events = [b"data: %s\n\n" % (b"%d" % n * 92) for n in range(3)]
    assert all(len(event) == 100 for event in events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    if apart:
        pieces: tuple[bytes, ...] = (head, *(chunk(event) for event in events))
    else:
        pieces = (head + b"".join(chunk(event) for event in events),)
    network = dataclasses.replace(DIRECT, max_response_bytes=250)
    received = b""
    async with scripted_server(always(*pieces, b"0\r\n\r\n")) as (url, _):
        async with Client(transport, network) as client:
            answer = await client.send(UpstreamRequest("POST", url + "/v1/x", {}, b"{}"), TIMEOUTS)
            with pytest.raises(UpstreamTooLarge):
                async for part in answer.iter_chunks():
                    received += part
            await answer.aclose()
    assert received == b"".join(events)[:250]


# -- TLS -------------------------------------------------------------------------------------


async def test_tls_with_the_private_ca_in_ca_file(
    transport: ConcreteTransport, ca: PrivateCA
) -> None:
    network = dataclasses.replace(DIRECT, ca_file=ca.ca_file)
    async with scripted_server(always(response(200, b"secure")), ca.server) as (url, _):
        assert url.startswith("https://")
        async with Client(transport, network) as client:
            assert await send(client, url) == b"secure"


async def test_tls_with_the_wrong_ca_is_a_clear_error(
    transport: ConcreteTransport, ca: PrivateCA, tmp_path: Path
) -> None:
    other = private_ca(tmp_path)  # trusted by the client, but not who signed the server
    network = dataclasses.replace(DIRECT, ca_file=other.ca_file)
    async with scripted_server(always(response(200, b"secure")), ca.server) as (url, _):
        async with Client(transport, network) as client:
            with pytest.raises(UpstreamTLSError) as caught:
                await send(client, url)
    message = str(caught.value)
    assert caught.value.kind == "tls"
    assert "not trusted" in message and "127.0.0.1" in message and "ca_file" in message


async def test_mtls_sends_the_client_certificate(
    transport: ConcreteTransport, ca: PrivateCA, tmp_path: Path
) -> None:
    server = private_ca(tmp_path)
    server.server.verify_mode = ssl.CERT_REQUIRED
    ca.ca.configure_trust(server.server)  # the server trusts clients `ca` signed
    cert, key = ca.client_files(tmp_path)
    with_cert = dataclasses.replace(
        DIRECT, ca_file=server.ca_file, client_cert=cert, client_key=key
    )
    async with scripted_server(always(response(200, b"mutual")), server.server) as (url, _):
        async with Client(transport, with_cert) as client:
            assert await send(client, url) == b"mutual"
        async with Client(transport, dataclasses.replace(DIRECT, ca_file=server.ca_file)) as bare:
            with pytest.raises(UpstreamError):
                await send(bare, url)


async def test_http2_is_spoken_only_through_httpx(
    transport: ConcreteTransport, tmp_path: Path
) -> None:
    ca = private_ca(tmp_path)  # its own: the server context gets HTTP/2 by ALPN
    network = dataclasses.replace(DIRECT, http2=True, ca_file=ca.ca_file)
    if not served_by(transport, network):
        return
    async with h2_server(ca.server, b"over h2") as (url, seen):
        async with Client(transport, network) as client:
            assert [await send(client, url) for _ in range(2)] == [b"over h2"] * 2
    assert seen.protocols == ["h2"]  # both requests on one HTTP/2 connection
    assert seen.paths == ["/v1/chat/completions"] * 2


async def test_without_http2_no_client_offers_it(
    transport: ConcreteTransport, tmp_path: Path
) -> None:
    ca = private_ca(tmp_path)
    network = dataclasses.replace(DIRECT, ca_file=ca.ca_file)
    async with h2_server(ca.server, b"over h2") as (url, seen):
        async with Client(transport, network) as client:
            request = UpstreamRequest("POST", url + "/v1/chat/completions", {}, b"{}")
            answer = await client.send(request, TIMEOUTS)
            await answer.aclose()
    assert answer.status == 505 and seen.protocols != ["h2"]
