"""The config watcher: when the native watcher cannot run (the host's inotify instances used
up), it polls instead, and `/admin/config/status` says so (gateway/reload.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import watchfiles

from gateway.app import create_app
from gateway.config.load import load_config
from tests.mock_config import MOCK_MODEL


async def test_a_watcher_that_cannot_run_natively_polls_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(MOCK_MODEL)
    reloader = create_app(load_config(path)).state.reloader
    asked: list[bool | None] = []

    async def awatch(
        *paths: Path, force_polling: bool | None = None, **options: object
    ) -> AsyncIterator[set[tuple[watchfiles.Change, str]]]:
        asked.append(force_polling)
        if not force_polling:
            raise OSError(24, "Too many open files")  # as inotify_init fails then
        path.write_text(MOCK_MODEL + "\n# edited\n")
        yield {(watchfiles.Change.modified, str(path))}
        await asyncio.Event().wait()  # then nothing more happens

    monkeypatch.setattr(watchfiles, "awatch", awatch)
    before = reloader.status.version
    watching = asyncio.create_task(reloader.watch())
    try:
        for _ in range(500):
            if reloader.status.version != before:
                break
            await asyncio.sleep(0.01)
        assert reloader.status.version != before  # the edit applied, by polling
        assert asked == [None, True]
        assert reloader.status.watcher == "polling"
        assert reloader.status.watcher_error == "OSError: [Errno 24] Too many open files"
    finally:
        watching.cancel()
        await reloader.aclose()


async def test_an_edit_made_while_the_watcher_restarts_after_a_directory_swap_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policies directory is replaced: the watcher reads the files once and starts anew
    on the new directory. An edit made after that read but before the new watcher ran was
    seen by no watcher, and the gateway served the old config until the next edit (the e2e
    symlink-loop test failed so once under load). The new watcher's first quiet timeout
    reads the files once more."""
    path = tmp_path / "gateway.toml"
    path.write_text(MOCK_MODEL)
    reloader = create_app(load_config(path)).state.reloader
    calls: list[bool] = []

    async def awatch(
        *paths: Path, yield_on_timeout: bool = False, **options: object
    ) -> AsyncIterator[set[tuple[watchfiles.Change, str]]]:
        calls.append(yield_on_timeout)
        if len(calls) == 1:  # the directory is swapped
            reloader._rewatch = True
            yield {(watchfiles.Change.deleted, str(tmp_path / "policies"))}
        else:  # an edit lands before this watcher runs: it never reports it
            path.write_text(MOCK_MODEL + "\n# edited while the watcher restarted\n")
            if yield_on_timeout:
                yield set()  # a quiet timeout
        await asyncio.Event().wait()

    monkeypatch.setattr(watchfiles, "awatch", awatch)

    def applied() -> bool:
        edited = len(calls) == 2 and "restarted" in path.read_text()
        return edited and reloader.status.version == load_config(path).version

    watching = asyncio.create_task(reloader.watch())
    try:
        for _ in range(500):
            if applied():
                break
            await asyncio.sleep(0.01)
        assert calls == [False, True]
        assert applied(), "the edit made while the watcher restarted was not applied"
    finally:
        watching.cancel()
        await reloader.aclose()
