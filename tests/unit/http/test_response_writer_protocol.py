"""The protocol's own start of a request (`GuardedHttpToolsProtocol._start_cycle`, uvicorn's
`on_headers_complete` with the gateway's `WritingCycle`) against uvicorn's: the same scopes
handed to the app, the same bytes answered, pipelined requests and the concurrency limit
included; and the writer chosen only under a uvicorn it mirrors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
from uvicorn.server import ServerState

from gateway.config.types import ResponseWriterName, ServerConfig
from gateway.http import protocol as protocol_module
from gateway.http.protocol import GuardedHttpToolsProtocol
from gateway.http.response_writer import WritingCycle, mirrors_installed_uvicorn
from tests.unit.http.protocol_harness import Transport

REQUESTS = [
    b"GET /v1/models?x=1&y=%20 HTTP/1.1\r\nhost: a\r\n\r\n",
    b"GET /a%2Fb/%C3%A9%20c HTTP/1.1\r\nhost: a\r\n\r\n",  # percent-encoded path
    b"POST /v1/chat/completions HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}",  # HTTP/1.0
    b"GET /x HTTP/1.1\r\nhost: a\r\n\r\nPOST /y?z HTTP/1.1\r\ncontent-length: 1\r\n\r\n!",
    b"OPTIONS * HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
]


def _served(
    writer: ResponseWriterName, data: bytes, **config: Any
) -> tuple[list[dict[str, Any]], bytes, set[type[object]]]:
    """The scopes the app got, the bytes answered and the cycle classes made for `data`."""
    scopes: list[dict[str, Any]] = []
    cycles: set[type[object]] = set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append({k: v for k, v in scope.items() if k != "state"})
        cycles.add(type(send.__self__))
        while (await receive()).get("more_body"):
            pass
        for _ in range(10 if scope["path"].endswith("/x") else 0):  # one pipelined behind
            await asyncio.sleep(0)  # this slow answer must wait for it
        body = scope["path"].encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def main() -> bytes:
        uvicorn_config = Config(app=app, ws="none", access_log=False, **config)
        uvicorn_config.load()
        limits = ServerConfig(response_writer=writer)
        served = GuardedHttpToolsProtocol(uvicorn_config, ServerState(), {}, limits=limits)
        transport = Transport()
        served.connection_made(transport)
        served.data_received(data)
        # Every answer (a pipelined request starts when the one before it is answered): the
        # loop's turns until no request task is left (at most 100; a refused one has none).
        for _ in range(100):
            await asyncio.sleep(0)
            if not served.tasks and not served.pipeline:
                break
        return transport.written

    return scopes, asyncio.run(main()), cycles


@pytest.fixture
def mirrored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's writer chosen by "auto" whatever uvicorn is installed (the contract tests
    hold it to that uvicorn)."""
    monkeypatch.setattr(protocol_module, "mirrors_installed_uvicorn", lambda: True)


@pytest.mark.usefixtures("mirrored")
@pytest.mark.parametrize("data", REQUESTS)
@pytest.mark.parametrize("config", [{}, {"root_path": "/gw"}, {"limit_concurrency": 0}])
def test_requests_are_started_as_uvicorn_starts_them(data: bytes, config: dict[str, Any]) -> None:
    uvicorn_scopes, uvicorn_answer, uvicorn_cycles = _served("uvicorn", data, **config)
    scopes, answer, cycles = _served("auto", data, **config)
    assert scopes == uvicorn_scopes and answer == uvicorn_answer
    if "limit_concurrency" in config:  # refused by uvicorn's 503 app: no cycle reached ours
        assert answer.startswith(b"HTTP/1.1 503 ") and not scopes
    else:
        assert answer.count(b"HTTP/1.1 200 OK\r\n") == len(scopes) >= 1
        assert uvicorn_cycles == {RequestResponseCycle} and cycles == {WritingCycle}


def test_the_writer_is_the_gateways_only_under_a_uvicorn_it_mirrors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert mirrors_installed_uvicorn("0.55.0") and mirrors_installed_uvicorn("0.55.12")
    assert not mirrors_installed_uvicorn("0.36.0") and not mirrors_installed_uvicorn("0.56.0")
    monkeypatch.setattr(protocol_module, "mirrors_installed_uvicorn", lambda: False)
    _, answer, cycles = _served("auto", REQUESTS[0])
    assert cycles == {RequestResponseCycle} and answer.startswith(b"HTTP/1.1 200 OK\r\n")
