"""The semantic cache's shared vectors (`share_vector`, `read_shared_vectors`): on Redis every
process reads, oldest first and once each, what the others shared (in every deployment shape,
through each client); memory shares with no one."""

from __future__ import annotations

from gateway.state import MemoryState, StateBackend
from gateway.state.base import SHARED_VECTORS_PAGE

# Binary entries: the cache's bytes hold anything (NUL, CR LF, bytes that are not UTF-8).
ENTRIES = [b"\x00entry\r\n%d\xff" % n for n in range(3)]


async def test_what_one_process_shares_the_others_read_once_in_order(
    state: StateBackend,
) -> None:
    entries, cursor = await state.read_shared_vectors(None)
    assert entries == []
    for entry in ENTRIES:
        await state.share_vector(entry, 60.0)
    entries, after = await state.read_shared_vectors(cursor)
    if isinstance(state, MemoryState):
        assert (entries, after) == ([], cursor)  # one process: nothing to share
        return
    assert entries == ENTRIES
    assert await state.read_shared_vectors(after) == ([], after)
    await state.share_vector(b"later", 60.0)
    assert (await state.read_shared_vectors(after))[0] == [b"later"]
    # A first read (a new process) gets them all, oldest first.
    assert (await state.read_shared_vectors(None))[0] == [*ENTRIES, b"later"]


async def test_reads_go_a_page_at_a_time_from_the_oldest(state: StateBackend) -> None:
    if isinstance(state, MemoryState):
        return  # shares nothing: the test above
    shared = [b"%d" % n for n in range(SHARED_VECTORS_PAGE + 5)]
    for entry in shared:
        await state.share_vector(entry, 60.0)
    page, after = await state.read_shared_vectors(None)  # a process that starts
    assert page == shared[:SHARED_VECTORS_PAGE]
    rest, end = await state.read_shared_vectors(after)
    assert rest == shared[SHARED_VECTORS_PAGE:]
    assert await state.read_shared_vectors(end) == ([], end)
    await state.share_vector(b"next", 60.0)
    assert (await state.read_shared_vectors(end))[0] == [b"next"]
