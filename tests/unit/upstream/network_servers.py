"""Misbehaving loopback servers for the network transport contract suite: raw asyncio sockets
that answer in exactly the bytes a test scripts, a TLS server signed by a private CA made in the
test (trustme), an HTTP/2 server (h2, by ALPN), and a small HTTP CONNECT proxy that records what
it was asked to reach."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import brotli
import h2.config
import h2.connection
import h2.events
import trustme
import zstandard

from tests.unit.upstream.loopback import loopback_server, read_request

# One request's head and body in; the bytes to write, piece by piece, out. A `None` piece closes
# the connection right there.
Script = Callable[[bytes, bytes], AsyncIterator[bytes | None]]


@dataclass
class Seen:
    """What a scripted server saw."""

    connections: int = 0
    requests: list[bytes] = field(default_factory=list)  # each request's head
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # a connection ended


def response(status: int, body: bytes, headers: str = "") -> bytes:
    """A Content-Length answer; `headers` are extra `name: value\\r\\n` lines."""
    return f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n{headers}\r\n".encode() + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@contextlib.asynccontextmanager
async def scripted_server(
    script: Script, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, Seen]]:
    """A keep-alive server answering every request with `script`; its URL and what it saw."""
    seen = Seen()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while True:
                try:
                    head, body = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                    return
                seen.requests.append(head)
                async for piece in script(head, body):
                    if piece is None:
                        return
                    writer.write(piece)
                    await writer.drain()
        finally:
            seen.closed.set()

    async with loopback_server(handler, tls) as url:
        yield url, seen


def always(*pieces: bytes | None) -> Script:
    """A script answering every request with the same pieces."""

    async def script(head: bytes, body: bytes) -> AsyncIterator[bytes | None]:
        for piece in pieces:
            yield piece

    return script


def compressor(encoding: str) -> Callable[[bytes, bool], bytes]:
    """Compress piece by piece, flushing after each (so each piece decodes on arrival) and
    ending the compressed stream with the `last` piece."""
    if encoding == "gzip":
        gz = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        return lambda data, last: (
            gz.compress(data) + gz.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        )
    if encoding == "br":
        br = brotli.Compressor()
        # brotli-stubs 1.2.1 lacks Compressor.flush, which brotli itself has.
        flush = br.flush  # type: ignore[attr-defined]
        return lambda data, last: br.process(data) + (br.finish() if last else flush())
    zs = zstandard.ZstdCompressor().compressobj()
    return lambda data, last: (
        zs.compress(data)
        + zs.flush(
            zstandard.COMPRESSOBJ_FLUSH_FINISH if last else zstandard.COMPRESSOBJ_FLUSH_BLOCK
        )
    )


def compressed(encoding: str, data: bytes) -> bytes:
    """`data` compressed whole, ending the stream properly."""
    if encoding == "gzip":
        gz = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        return gz.compress(data) + gz.flush()
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        return bytes(brotli.compress(data))
    return zstandard.ZstdCompressor().compress(data)


@dataclass
class PrivateCA:
    """A CA made for the test, a server certificate for 127.0.0.1 it signed, files to trust it."""

    ca: trustme.CA
    ca_file: Path
    server: ssl.SSLContext

    def client_files(self, directory: Path) -> tuple[Path, Path]:
        """A client certificate and key this CA signed (for mTLS)."""
        issued = self.ca.issue_cert("client.test")
        cert, key = directory / "client.pem", directory / "client.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        return cert, key


def private_ca(directory: Path) -> PrivateCA:
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    return PrivateCA(ca, ca_file, server)


@dataclass
class Proxy:
    url: str
    targets: list[str] = field(default_factory=list)  # CONNECT authorities, absolute URLs
    # Each request's Proxy-Authorization value ("" when it had none).
    authorizations: list[str] = field(default_factory=list)

    def url_with(self, userinfo: str) -> str:
        """The proxy's URL with `user:password@` in it."""
        return self.url.replace("http://", f"http://{userinfo}@", 1)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def connect_proxy(authorization: str | None = None) -> AsyncIterator[Proxy]:
    """An HTTP proxy: `CONNECT host:port` opens a tunnel; an absolute-form request is forwarded
    (one upstream per client connection, enough for a test). With `authorization` (the
    Proxy-Authorization value it wants), any other request gets 407 and the connection closes."""
    proxy = Proxy("")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        request_line, _, rest = head.decode("latin-1").partition("\r\n")
        method, target, _ = request_line.split(" ", 2)
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in rest.split("\r\n") if line)
        )
        given = fields.get("proxy-authorization", "")
        proxy.targets.append(target)
        proxy.authorizations.append(given)
        if authorization is not None and given != authorization:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'proxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n'
                b"connection: close\r\n\r\n"
            )
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            first = b""
        else:
            authority = target.split("://", 1)[1].split("/", 1)[0]
            host, _, port = authority.rpartition(":")
            path = "/" + target.split("://", 1)[1].split("/", 1)[1]
            kept = [
                line
                for line in head.split(b"\r\n")
                if not line.lower().startswith(b"proxy-authorization:")  # hop-by-hop: not sent on
            ]
            first = b"\r\n".join(kept).replace(target.encode(), path.encode(), 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        if first:
            upstream_writer.write(first)
        else:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async with loopback_server(handler) as url:
        proxy.url = url
        yield proxy


@dataclass
class H2Seen:
    protocols: list[str] = field(default_factory=list)  # the ALPN protocol of each connection
    paths: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def h2_server(tls: ssl.SSLContext, body: bytes) -> AsyncIterator[tuple[str, H2Seen]]:
    """A TLS server offering HTTP/2 (and HTTP/1.1) by ALPN that answers every HTTP/2 request
    200 with `body`; its URL and what it saw. An HTTP/1.1 client gets a 505."""
    tls.set_alpn_protocols(["h2", "http/1.1"])
    seen = H2Seen()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        protocol = ssl_object.selected_alpn_protocol() if ssl_object else None
        seen.protocols.append(protocol or "none")
        if protocol != "h2":
            writer.write(b"HTTP/1.1 505 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = dict(event.headers)
                    seen.paths.append(headers[b":path"].decode())
                elif isinstance(event, h2.events.StreamEnded):
                    conn.send_headers(
                        event.stream_id, [(":status", "200"), ("content-length", str(len(body)))]
                    )
                    conn.send_data(event.stream_id, body, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()

    async with loopback_server(handler, tls) as url:
        yield url, seen
