"""The RESP client's connection (gateway/state/redis/resp_connection.py) on a fake transport:
replies fed by hand, in whatever reads the test picks, resolve the calls in write order."""

from __future__ import annotations

import asyncio

import pytest

from gateway.state import StateUnavailable
from gateway.state.redis.resp_connection import Connection
from gateway.state.redis.wire import Reply, ReplyError, encode


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True


def connection() -> tuple[Connection, FakeTransport, list[StateUnavailable]]:
    lost: list[StateUnavailable] = []
    conn = Connection(asyncio.get_running_loop(), 5.0, lost.append)
    transport = FakeTransport()
    conn.connection_made(transport)
    return conn, transport, lost


async def test_the_replies_of_several_calls_in_one_read_resolve_each_call() -> None:
    conn, _, lost = connection()
    first = conn.send_waited_on(encode(["A"]), 2)
    second = conn.send_waited_on(encode(["B"]), 1)
    third = conn.send(encode(["C"]), 3)
    conn.data_received(b":1\r\n$1\r\nx\r\n-ERR no\r\n:2\r\n$-1\r\n*1\r\n:3\r\n")
    assert first.result() == [1, b"x"]
    (error,) = second.result()
    assert isinstance(error, ReplyError) and str(error) == "ERR no"  # an error reply is a value
    assert third.result() == [2, None, [3]]
    assert not conn.calls and not lost


async def test_a_calls_replies_split_across_reads_resolve_it_once_all_came() -> None:
    conn, _, lost = connection()
    first = conn.send(encode(["A"]), 1)
    second = conn.send_waited_on(encode(["B"]), 3)
    third = conn.send(encode(["C"]), 2)
    conn.data_received(b":1\r\n:2\r\n")  # the first call's, and one of the second's
    assert first.result() == [1] and not second.done()
    conn.data_received(b"-ERR mid\r\n$2\r")  # one more of the second's, and part of one
    assert not second.done()
    conn.data_received(b"\nok\r\n:5\r\n")  # the second's last, and one of the third's
    replies = second.result()
    assert replies[0] == 2 and isinstance(replies[1], ReplyError) and replies[2] == b"ok"
    assert not third.done()
    conn.data_received(b":6\r\n")
    assert third.result() == [5, 6]
    assert not conn.calls and not lost
    assert conn._waited_on == 0  # the waited-on call split across reads was counted off once


async def test_the_replies_of_a_cancelled_call_are_read_past_and_the_next_calls_get_theirs() -> (
    None
):
    conn, _, lost = connection()
    cancelled = conn.send_waited_on(encode(["A"]), 2)
    refused = conn.send_waited_on(encode(["B"]), 1)
    cancelled_refused = conn.send_waited_on(encode(["C"]), 1)
    last = conn.send_waited_on(encode(["D"]), 1)
    cancelled.cancel()
    cancelled_refused.cancel()
    conn.data_received(b":1\r\n:2\r\n-LOADING wait\r\n-LOADING wait\r\n:3\r\n")
    assert cancelled.cancelled() and cancelled_refused.cancelled()
    with pytest.raises(StateUnavailable):
        refused.result()
    assert last.result() == [3]
    assert not conn.calls and not lost and conn._waited_on == 0


async def test_a_call_waited_on_is_written_at_once_again_once_the_last_one_is_answered() -> None:
    conn, transport, _ = connection()
    first = conn.send_waited_on(encode(["A"]), 2)
    assert len(transport.writes) == 1  # the only call waited on: now
    second = conn.send_waited_on(encode(["B"]), 1)
    assert len(transport.writes) == 1  # another is in flight: at the end of the turn
    conn.data_received(b":1\r\n")
    await asyncio.sleep(0)  # the end of the turn
    assert len(transport.writes) == 2
    conn.data_received(b":2\r\n:3\r\n")
    assert first.result() == [1, 2] and second.result() == [3]
    conn.send_waited_on(encode(["C"]), 1)
    assert len(transport.writes) == 3  # none in flight: now


async def test_applied_calls_among_others_get_their_outcome_and_noscript_sends_the_eval() -> None:
    conn, transport, _ = connection()
    ok = conn.send_applied(encode(["OK"]))
    failed = conn.send_applied(encode(["BAD"]))
    rerun = conn.send_applied(encode(["EVALSHA"]), noscript=lambda: encode(["EVAL"]))
    waited = conn.send_waited_on(encode(["W"]), 2)
    await asyncio.sleep(0)
    conn.data_received(b"+OK\r\n-ERR bad\r\n-NOSCRIPT no\r\n:1\r")
    assert ok.result() is None
    assert isinstance(failed.exception(), ReplyError)
    assert not rerun.done() and not waited.done()
    conn.data_received(b"\n:2\r\n")
    assert waited.result() == [1, 2]
    await asyncio.sleep(0)  # the EVAL, written at the end of the turn
    assert b"EVAL\r\n" in transport.writes[-1]
    conn.data_received(b"+OK\r\n")
    assert rerun.result() is None


async def test_a_reply_nobody_asked_for_loses_the_connection_after_the_calls_it_answers() -> None:
    conn, transport, lost = connection()
    first = conn.send(encode(["A"]), 1)
    second = conn.send(encode(["B"]), 2)
    conn.data_received(b":1\r\n:2\r\n")
    conn.data_received(b":3\r\n:4\r\n")
    assert first.result() == [1] and second.result() == [2, 3]
    assert transport.aborted and len(lost) == 1


async def test_losing_the_connection_mid_call_fails_it_and_forgets_its_first_replies() -> None:
    conn, _, lost = connection()
    split = conn.send(encode(["A"]), 2)
    later = conn.send(encode(["B"]), 1)
    conn.data_received(b":1\r\n")
    conn.connection_lost(None)
    for future in (split, later):
        with pytest.raises(StateUnavailable):
            future.result()
    assert len(lost) == 1 and not conn.calls


async def test_a_late_reply_fails_every_waiting_call_on_the_one_timer() -> None:
    lost: list[StateUnavailable] = []
    conn = Connection(asyncio.get_running_loop(), 0.05, lost.append)
    conn.connection_made(FakeTransport())
    answered = conn.send_waited_on(encode(["A"]), 1)
    waiting: list[asyncio.Future[list[Reply]] | asyncio.Future[None]] = [
        conn.send_waited_on(encode(["B"]), 1),
        conn.send_applied(encode(["C"])),
    ]
    conn.data_received(b":1\r\n")  # the first in time: the timer re-arms for the next
    assert answered.result() == [1]
    for future in waiting:
        with pytest.raises(StateUnavailable) as failed:
            await future
        assert failed.value.kind == "timeout"
    assert [error.kind for error in lost] == ["timeout"]


async def test_a_waited_on_call_raises_a_reply_saying_the_server_cannot_serve_now() -> None:
    conn, _, lost = connection()
    readonly = conn.send_waited_on(encode(["A"]), 2)
    loading = conn.send_waited_on(encode(["B"]), 1)
    erred = conn.send_waited_on(encode(["C"]), 1)
    settled = conn.send(encode(["D"]), 1)  # not waited on: its replies are values
    conn.data_received(b":1\r\n-READONLY replica\r\n-LOADING wait\r\n-ERR no\r\n")
    conn.data_received(b"-READONLY replica\r\n")
    failed = readonly.exception()
    assert isinstance(failed, ReplyError) and failed.kind == "readonly"
    assert isinstance(loading.exception(), ReplyError)
    (error,) = erred.result()  # any other error reply is a value
    assert isinstance(error, ReplyError) and error.code == "ERR"
    (error,) = settled.result()
    assert isinstance(error, ReplyError) and error.code == "READONLY"
    assert not lost and not conn.closed


async def test_calls_encoded_at_the_write_keep_their_place_among_the_turns_calls() -> None:
    conn, transport, _ = connection()
    encoded: list[str] = []

    def later(name: str) -> bytes:
        encoded.append(name)
        return encode([name])

    conn.send(encode(["A"]), 1, soon=True)
    conn.send_applied(lambda: later("B"))
    conn.send(lambda: later("C"), 1, soon=True)
    conn.send(encode(["D"]), 1, soon=True)
    assert encoded == [] and transport.writes == []  # encoded as they are written
    await asyncio.sleep(0)  # the end of the turn
    assert encoded == ["B", "C"]
    assert transport.writes == [b"".join(encode([name]) for name in "ABCD")]
    conn.send_applied(lambda: later("E"))  # the next turn starts afresh
    await asyncio.sleep(0)
    assert transport.writes[1:] == [encode(["E"])]
