"""The server transport sends a response's headers together with its first body write."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.http.coalescing import HeadersWithBody

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return f"info:{name}"


def _body_read() -> bool:
    return False


def test_headers_and_body_written_in_one_turn_leave_as_one_write() -> None:
    async def main() -> list[bytes]:
        transport = RecordingTransport()
        proxy = HeadersWithBody(transport, asyncio.get_running_loop(), _body_read)
        proxy.write(HEAD)
        assert transport.writes == []
        proxy.write(b"{}")
        await asyncio.sleep(0)
        return transport.writes

    assert asyncio.run(main()) == [HEAD + b"{}"]


def test_headers_without_a_body_leave_at_the_end_of_the_turn() -> None:
    async def main() -> list[bytes]:
        transport = RecordingTransport()
        proxy = HeadersWithBody(transport, asyncio.get_running_loop(), _body_read)
        proxy.write(HEAD)
        await asyncio.sleep(0)
        assert transport.writes == [HEAD], "a stream's headers do not wait for its first event"
        proxy.write(b"5\r\nhello\r\n")
        return transport.writes

    assert asyncio.run(main()) == [HEAD, b"5\r\nhello\r\n"]


def test_close_sends_held_headers_first_and_other_calls_pass_through() -> None:
    async def main() -> RecordingTransport:
        transport = RecordingTransport()
        proxy = HeadersWithBody(transport, asyncio.get_running_loop(), _body_read)
        assert proxy.get_extra_info("peername") == "info:peername"
        proxy.write(HEAD)
        proxy.close()
        await asyncio.sleep(0)
        return transport

    transport = asyncio.run(main())
    assert transport.writes == [HEAD] and transport.closed


def test_body_writes_are_never_held() -> None:
    async def main() -> list[bytes]:
        transport = RecordingTransport()
        proxy = HeadersWithBody(transport, asyncio.get_running_loop(), _body_read)
        proxy.write(b"data: {}\r\n")
        return list(transport.writes)

    assert asyncio.run(main()) == [b"data: {}\r\n"]


def test_a_head_answering_a_request_whose_body_is_still_coming_says_connection_close() -> None:
    async def main(body_unread: bool) -> list[bytes]:
        transport = RecordingTransport()
        proxy = HeadersWithBody(transport, asyncio.get_running_loop(), lambda: body_unread)
        proxy.write(HEAD)
        proxy.write(b"{}")
        return transport.writes

    closing = HEAD[:-2] + b"connection: close\r\n\r\n"
    assert asyncio.run(main(True)) == [closing + b"{}"]
    assert asyncio.run(main(False)) == [HEAD + b"{}"]
