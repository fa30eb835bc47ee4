"""The redis-py client sends the calls started in one turn of the loop as one pipeline, on one
pooled connection, and hands each call its own replies (gateway/state/redis/redispy.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from gateway.state import RedisOptions
from gateway.state.redis.redispy import RedisPyClient
from gateway.state.redis.wire import Reply, ReplyError, encode
from tests.unit.state.conftest import TEST_TIMEOUT_S


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[RedisPyClient]:
    made = RedisPyClient(RedisOptions(url=redis_url, client="redis-py", timeout_s=TEST_TIMEOUT_S))
    yield made
    await made.aclose()


def _connections(redis_url: str) -> int:
    with redis.Redis.from_url(redis_url) as admin:
        return int(admin.info("clients")["connected_clients"]) - 1  # not this one


async def test_the_calls_of_one_turn_share_one_connection_and_get_their_own_replies(
    redis_url: str, client: RedisPyClient
) -> None:
    assert await client.ping()  # connected: the pool holds one connection
    before = _connections(redis_url)
    calls = [
        client.begin([encode(["ECHO", f"call {n}"]), encode(["ECHO", f"call {n} again"])])
        if n % 3 == 0
        else client.begin([encode(["ECHO", f"call {n}"])])
        for n in range(20)
    ]
    replies = await asyncio.gather(*calls)
    assert replies == [
        [f"call {n}".encode(), f"call {n} again".encode()] if n % 3 == 0 else [f"call {n}".encode()]
        for n in range(20)
    ]
    # Twenty calls in flight at once took one pooled connection, not one each (up to 16).
    assert _connections(redis_url) == before


async def test_an_error_reply_or_a_failed_encoding_stays_with_its_call(
    client: RedisPyClient,
) -> None:
    def cannot_encode() -> bytes:
        raise ValueError("no")

    good = client.begin([encode(["ECHO", "fine"])])
    wrong = client.begin([encode(["INCR", "not a number", "extra"])])
    failed = client.send_soon_applied(cannot_encode)
    after = client.begin([encode(["ECHO", "still fine"])])
    assert await good == [b"fine"]
    (error,) = await wrong
    assert isinstance(error, ReplyError) and error.code == "ERR"
    with pytest.raises(ValueError, match="no"):
        await failed
    assert await after == [b"still fine"]


async def test_a_caller_that_leaves_takes_nothing_from_the_others_of_its_turn(
    client: RedisPyClient,
) -> None:
    """A request cancelled while its call waits (its client left) cancels its own future
    only: the turn is still sent, and every other call of it gets its replies."""
    assert await client.ping()

    async def call(n: int) -> list[object]:
        return list(await client.begin([encode(["ECHO", f"call {n}"])]))

    tasks = [asyncio.create_task(call(n)) for n in range(3)]
    await asyncio.sleep(0)  # every call started, in one turn; none sent yet
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == [b"call 0"] and done[2] == [b"call 2"]
    assert isinstance(done[1], asyncio.CancelledError)
    assert await client.begin([encode(["ECHO", "after"])]) == [b"after"]


async def test_a_call_without_commands_gets_no_replies(client: RedisPyClient) -> None:
    """Alone in its turn or beside others, as the RESP client answers it: an empty list."""
    assert await client.begin([]) == []
    alone_beside, other = client.begin([]), client.begin([encode(["ECHO", "x"])])
    assert await alone_beside == [] and await other == [b"x"]


def test_a_turn_left_by_a_closed_loop_does_not_hold_the_next_loops_calls(redis_url: str) -> None:
    """A loop closed before its turn's task ran leaves that turn unsent; a call from another
    loop starts a turn of its own instead of joining it (and waiting for ever)."""
    client = RedisPyClient(RedisOptions(url=redis_url, client="redis-py", timeout_s=TEST_TIMEOUT_S))
    first = asyncio.new_event_loop()

    async def begin_then_stop() -> None:
        client.begin([encode(["ECHO", "never sent"])])  # its turn's task runs next turn...
        first.stop()  # ...which never comes

    first.create_task(begin_then_stop())
    first.run_forever()
    for unsent in asyncio.all_tasks(first):  # the turn's task, never started: let it go quietly
        unsent.get_coro().close()
    first.close()

    async def in_a_new_loop() -> list[Reply]:
        try:
            return await asyncio.wait_for(client.begin([encode(["ECHO", "x"])]), 5)
        finally:
            await client.aclose()

    assert asyncio.run(in_a_new_loop()) == [b"x"]
