"""The lean RESP2 client (gateway/state/redis/resp.py): parsing, pipelining, errors,
reconnects.

Runs against a real redis-server (tests/redis_server.py); servers that never answer are in
test_resp_timeouts.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from gateway.state import StateUnavailable
from gateway.state.redis.commands import Script
from gateway.state.redis.resp import Address, RespClient
from gateway.state.redis.wire import Parser, ReplyError, encode
from tests.conditions import eventually
from tests.redis_server import RedisServer, start_redis_or_skip

# -- pure parts --------------------------------------------------------------------------------


def test_encode_makes_an_array_of_bulk_strings() -> None:
    assert encode(["SET", b"k\r\n", 42]) == b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n42\r\n"
    # Text only (the fast path) and with non-ASCII text (lengths in bytes, not characters).
    assert encode(["GET", "key", -7]) == b"*3\r\n$3\r\nGET\r\n$3\r\nkey\r\n$2\r\n-7\r\n"
    assert encode(["GET", "caf\u00e9"]) == b"*2\r\n$3\r\nGET\r\n$5\r\ncaf\xc3\xa9\r\n"


def test_parser_reads_every_reply_type_across_chunk_boundaries() -> None:
    wire = (
        b"+OK\r\n:-7\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*0\r\n"
        b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n-ERR wrong type\r\n"
    )
    expected = [b"OK", -7, b"he\r\no", None, None, [], [1, [b"a", None], b"x"]]
    whole = Parser().feed(wire)
    assert whole[:-1] == expected
    assert isinstance(whole[-1], ReplyError) and str(whole[-1]) == "ERR wrong type"
    for size in (1, 2, 3, 7):  # the same bytes in small pieces
        parser = Parser()
        replies = []
        for start in range(0, len(wire), size):
            replies += parser.feed(wire[start : start + size])
        assert replies[:-1] == expected and str(replies[-1]) == "ERR wrong type"


def test_parser_reads_replies_that_are_zero_or_empty_and_those_after_them() -> None:
    """Replies that compare equal to False (0) or are falsy do not end a read's replies."""
    assert Parser().feed(b":0\r\n$0\r\n\r\n*0\r\n$-1\r\n:1\r\n") == [0, b"", [], None, 1]


def test_parser_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        Parser().feed(b"?what\r\n")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://127.0.0.1:6400/0", Address("127.0.0.1", 6400)),
        ("redis://localhost", Address("localhost", 6379)),
        ("redis://:s%40cret@h:1/3", Address("h", 1, password="s@cret", db=3)),
        ("redis://me:pw@h:1", Address("h", 1, username="me", password="pw")),
        ("rediss://h:1/2", Address("h", 1, tls=True, db=2)),
        ("unix:///tmp/redis.sock?db=4", Address(path="/tmp/redis.sock", db=4)),
    ],
)
def test_urls(url: str, address: Address) -> None:
    assert Address.from_url(url) == address


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError):
        Address.from_url("http://127.0.0.1:6379")


# -- against a real server ---------------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server this test may stop and restart without disturbing the shared one."""
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture
async def client(own_server: RedisServer) -> AsyncIterator[RespClient]:
    made = RespClient(own_server.url, socket_timeout_s=2.0)
    yield made
    await made.aclose()


async def test_commands_and_pipelines(client: RespClient) -> None:
    assert await client.execute("PING") == b"PONG"
    assert await client.execute("SET", "k", b"\x00\xffbytes") == b"OK"
    assert await client.execute("GET", "k") == b"\x00\xffbytes"
    assert await client.execute("GET", "missing") is None
    replies = await client.pipeline(
        [["INCR", "n"], ["INCR", "n"], ["HSET", "h", "a", 1], ["HMGET", "h", "a", "b"]]
    )
    assert replies == [1, 2, 1, [b"1", None]]
    # Encoded commands (the hot calls) joined as they are, alone or beside arguments.
    encoded = [encode(["INCR", "n"]), encode(["HMGET", "h", "a"])]
    assert await client.pipeline(encoded) == [3, [b"1"]]
    assert await client.pipeline([encoded[0], ("GET", "n"), encoded[1]]) == [4, b"4", [b"1"]]


async def test_concurrent_calls_get_their_own_replies_in_order(client: RespClient) -> None:
    async def echo(i: int) -> bool:
        return await client.execute("ECHO", f"call {i}") == f"call {i}".encode()

    assert all(await asyncio.gather(*(echo(i) for i in range(500))))


async def test_large_values_round_trip(client: RespClient) -> None:
    value = bytes(range(256)) * 8192  # 2 MiB, many reads
    await client.execute("SET", "big", value)
    assert await client.execute("GET", "big") == value


async def test_error_replies(client: RespClient) -> None:
    await client.execute("SET", "s", "text")
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        await client.execute("HGET", "s", "f")
    # In a pipeline an error is one reply among others; the connection stays usable.
    replies = await client.pipeline([["INCR", "s"], ["GET", "s"]])
    assert isinstance(replies[0], ReplyError) and replies[1] == b"text"
    assert await client.execute("PING") == b"PONG"


async def test_evalsha_loads_a_script_the_server_does_not_know(client: RespClient) -> None:
    script = Script("return {KEYS[1], ARGV[1], 7}")
    assert await client.evalsha(script, ["k"], ["v"]) == [b"k", b"v", 7]
    assert await client.execute("SCRIPT", "EXISTS", script.sha) == [1]
    await client.execute("SCRIPT", "FLUSH")
    assert await client.evalsha(script, ["k2"], ["v2"]) == [b"k2", b"v2", 7]
    with pytest.raises(ReplyError):
        await client.evalsha(Script("return redis.call('NOSUCHCOMMAND')"), [], [])


async def test_password_and_database_from_the_url(own_server: RedisServer) -> None:
    with redis.Redis.from_url(own_server.url) as admin:
        admin.set("where", "db0")
        admin.execute_command("CONFIG", "SET", "requirepass", "s3cret")
    try:
        refused = RespClient(own_server.url, socket_timeout_s=2.0)
        with pytest.raises(ReplyError, match="NOAUTH"):
            await refused.execute("GET", "where")
        await refused.aclose()
        wrong = RespClient(f"redis://:nope@127.0.0.1:{own_server.port}/0", socket_timeout_s=2.0)
        with pytest.raises(StateUnavailable):
            await wrong.execute("PING")
        await wrong.aclose()
        good = RespClient(f"redis://:s3cret@127.0.0.1:{own_server.port}/5", socket_timeout_s=2.0)
        assert await good.execute("GET", "where") is None  # database 5, not 0
        await good.execute("SET", "where", "db5")
        assert await good.execute("GET", "where") == b"db5"
        await good.aclose()
    finally:
        with redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{own_server.port}/0") as admin:
            admin.execute_command("CONFIG", "SET", "requirepass", "")


async def test_reconnects_after_the_server_restarts(
    client: RespClient, own_server: RedisServer
) -> None:
    assert await client.execute("PING") == b"PONG"
    own_server.stop()
    # Told by the kind of each failure, not by a clock: the connection's loss, then a refusal at
    # once while the client knows the server is down; never a wait for the 2 s timeout.
    with pytest.raises(StateUnavailable) as lost:
        await client.execute("PING")
    with pytest.raises(StateUnavailable) as refused:
        await client.execute("PING")
    assert (lost.value.kind, refused.value.kind) == ("connection", "down")
    own_server.start()
    # Refused at once until the background reconnect finds the server again.
    reply = await eventually(lambda: client.execute("PING"), 3.0, ignore=(StateUnavailable,))
    assert reply == b"PONG"


async def test_a_cancelled_call_does_not_shift_the_replies(client: RespClient) -> None:
    await client.execute("SET", "a", "1")
    slow = asyncio.ensure_future(client.execute("GET", "a"))
    await asyncio.sleep(0)
    slow.cancel()
    assert await client.execute("ECHO", "mine") == b"mine"
    assert await client.execute("GET", "a") == b"1"


async def test_a_call_on_a_closed_client_reconnects(client: RespClient) -> None:
    assert await client.execute("PING") == b"PONG"
    await client.aclose()
    assert await client.execute("PING") == b"PONG"


async def record_writes(client: RespClient, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Connect `client`, then keep a copy of each write its connection makes from now on."""
    assert await client.execute("PING") == b"PONG"  # connected
    conn = client._conn
    assert conn is not None and conn.transport is not None
    writes: list[bytes] = []
    real_write = conn.transport.write

    def write(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        real_write(data)

    monkeypatch.setattr(conn.transport, "write", write)
    return writes


async def test_calls_made_in_one_turn_leave_in_one_write_in_their_order(
    client: RespClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = await record_writes(client, monkeypatch)
    # Calls sent soon (settlements) wait for the end of the turn, whatever is in flight.
    soon = client.send_soon([encode(["ECHO", "soon"])])
    assert writes == []
    assert await soon == [b"soon"] and len(writes) == 1
    # Begun calls (someone waits on them) while another is in flight: at the end of this turn
    # of the loop, together, with the calls sent soon meanwhile, in the order they were made.
    writes.clear()
    waiting = client.begin([encode(["ECHO", "in flight"])])
    assert len(writes) == 1
    begun = [client.begin([encode(["ECHO", f"begun {i}"])]) for i in range(3)]
    soon = client.send_soon([encode(["ECHO", "soon"])])
    last = client.begin([encode(["ECHO", "last"])])
    assert len(writes) == 1  # not yet
    assert await asyncio.gather(waiting, *begun, last) == [
        [b"in flight"],
        *([f"begun {i}".encode()] for i in range(3)),
        [b"last"],
    ]
    assert await soon == [b"soon"]
    assert len(writes) == 2 and writes[1].count(b"ECHO") == 5
    assert writes[1].index(b"begun 2") < writes[1].index(b"soon") < writes[1].index(b"last")


async def test_a_begun_call_on_a_quiet_connection_leaves_at_once_with_the_unwritten(
    client: RespClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request at a time: nothing would share the acquire's write, and the end of the
    turn comes only after what the turn queued before it (the previous request's record)."""
    writes = await record_writes(client, monkeypatch)
    soon = client.send_soon([encode(["ECHO", "settled"])])  # a settlement not written yet
    begun = client.begin([encode(["ECHO", "acquire"])])
    assert len(writes) == 1  # before this returned, in order, in one write
    assert writes[0].index(b"settled") < writes[0].index(b"acquire")
    assert await begun == [b"acquire"] and await soon == [b"settled"]
    assert len(writes) == 1


async def test_a_call_that_cannot_be_encoded_at_its_write_fails_and_the_gate_stays_open(
    client: RespClient,
) -> None:
    assert await client.execute("PING") == b"PONG"  # connected

    def broken() -> bytes:
        raise RuntimeError("bug")

    failed = client.send_soon_applied(broken)
    with pytest.raises(StateUnavailable):
        await failed
    assert client.gate.down is None  # the server is fine: no fail-fast window
    assert await client.execute("ECHO", "still") == b"still"


async def test_a_call_sent_soon_applied_ends_with_its_error_reply(client: RespClient) -> None:
    """A settlement's reply says only whether it ran: success, or the error, as its future's
    outcome, resolved as the reply is read."""
    assert await client.execute("PING") == b"PONG"  # connected
    await client.send_soon_applied(encode(["SET", "k", "v"]))  # raises on an error reply
    assert await client.execute("GET", "k") == b"v"
    with pytest.raises(ReplyError) as failed:
        await client.send_soon_applied(encode(["INCR", "k"]))  # not an integer
    assert failed.value.code == "ERR"
