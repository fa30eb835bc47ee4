"""Appending to a file that rotates past a size, shared by several processes.

The request log and the audit trail both use it. Beside `path` a lock file (`path.lock`) is
held shared by every append, around its inode check and its `write()`, and exclusively by a
rotation. So no line is written into a file while it is renamed to `path.1` or deleted
(`backups = 0`): a line written into a deleted file was lost, and one written into a file
already renamed could land in one deleted by the next rotation. A rotation drops exactly the
lines its oldest file held when it was rotated, and the files numbered past `backups` (kept
while it was larger). `read_all` opens the files under the same lock,
so a reader sees each line once whatever rotates meanwhile.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("gateway.rotation")
# A file modified this long before a time holds no line written since (`read_all`'s
# `newer_than`): a line's `ts` is taken before its write, and file times come from a clock
# that may lag `time.time()` by a tick.
MTIME_SLACK_S = 1.0
# The most rotated files a log keeps (`[logging] backups` and `audit_backups` range up to it).
MAX_BACKUPS = 1000


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def backup_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


def rotate(path: Path, backups: int) -> None:
    """Shift `path.1`.. up by one and `path` to `path.1`, dropping the oldest (with
    `backups = 0`, `path` itself) and any `path.<n>` past `backups` (left by a larger one);
    the caller holds the lock exclusively."""
    for index in range(backups - 1, 0, -1):
        older = backup_path(path, index)
        if older.exists():
            os.replace(older, backup_path(path, index + 1))
    if backups > 0:
        os.replace(path, backup_path(path, 1))
    else:
        os.unlink(path)
    drop_backups_beyond(path, backups)


def drop_backups_beyond(path: Path, backups: int) -> None:
    """Delete `path.<n>` for every `n` > `backups`: the files a larger `backups` kept (a
    reload or a restart lowered it), which no rotation shifts and no reader reads any more.
    Only names `backup_path` gives (`n` in ASCII digits, no leading zero) are touched; one
    that cannot be deleted is logged and the others still are."""
    for index in backup_indexes(path):
        if index > backups:
            older = backup_path(path, index)
            try:
                os.unlink(older)
            except OSError:
                log.exception("cannot delete %s, past backups = %d", older, backups)


def backup_indexes(path: Path) -> Iterator[int]:
    """The `n` of every `path.<n>` beside `path` (a name `backup_path` gives: ASCII digits,
    no leading zero), in no order."""
    prefix = path.name + "."
    for name in os.listdir(path.parent):
        suffix = name[len(prefix) :] if name.startswith(prefix) else ""
        if suffix.isascii() and suffix.isdigit() and str(int(suffix)) == suffix:
            yield int(suffix)


def kept_backups(path: Path) -> int:
    """How many rotated files `read_all` should try for a reader that does not know the
    config's `backups` (`gateway stats`): the highest `n` of a `path.<n>` on disk, up to
    `MAX_BACKUPS`; 0 when there is none or `path`'s directory cannot be listed."""
    try:
        found = [index for index in backup_indexes(path) if index <= MAX_BACKUPS]
    except OSError:
        return 0
    return max(found, default=0)


@dataclass(frozen=True)
class Rotation:
    """When a file rotates (past `max_bytes`; 0: never) and how many old files it keeps."""

    max_bytes: int
    backups: int


class RotatingFile:
    """An `O_APPEND` file rotated past `max_bytes` (0: never), keeping `backups` old files
    (`path.1` newest). Several processes may append to one path, each through its own
    `RotatingFile`; `append` reopens when the path no longer names its file.

    `rotation` may be replaced while another thread appends (a config reload): it is one
    immutable object, read once per append, so a rotation never pairs one setting's old value
    with the other's new one."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.rotation = Rotation(max_bytes, backups)
        self._fd = _open_log(path)
        try:
            self._lock = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o640)
        except OSError:
            os.close(self._fd)
            raise

    def append(self, data: bytes) -> None:
        """One `write()` of `data` (more only if the kernel takes part of it); raises OSError
        when the file cannot be written. A failed rotation is logged and the line written."""
        rotation = self.rotation
        fcntl.flock(self._lock, fcntl.LOCK_SH)
        try:
            self._reopen_if_moved()
            if rotation.max_bytes and os.fstat(self._fd).st_size >= rotation.max_bytes:
                self._rotate(rotation)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _rotate(self, rotation: Rotation) -> None:
        """Called holding the lock shared; returns holding it shared, `self._fd` the file the
        path names. Trading a shared lock for an exclusive one is not atomic (flock(2)):
        another process may rotate meanwhile, so the size is checked again."""
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(self.path) and os.stat(self.path).st_size >= rotation.max_bytes:
                rotate(self.path, rotation.backups)
        except OSError:
            log.exception("cannot rotate %s", self.path)
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        self._reopen_if_moved()

    def _reopen_if_moved(self) -> None:
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = -1
        if current != os.fstat(self._fd).st_ino:
            fd = _open_log(self.path)
            os.close(self._fd)
            self._fd = fd

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._lock)


def read_all(
    path: Path, backups: int, newer_than: float = 0.0, skip_unreadable: bool = False
) -> list[BinaryIO]:
    """`path`'s kept files, oldest first (`path.<backups>` .. `path.1`, `path`), open for
    reading; those last modified before `newer_than` (epoch seconds), missing or not regular
    files (a FIFO would block the open, a device never end) left out, and with
    `skip_unreadable` those that cannot be opened. Opened under the lock, so a rotation
    meanwhile neither hides a file's lines nor shows them twice."""
    names = [backup_path(path, index) for index in range(backups, 0, -1)] + [path]
    try:
        lock = os.open(lock_path(path), os.O_RDONLY)
    except FileNotFoundError:
        lock = -1  # never appended to through RotatingFile: nothing rotates it
    handles: list[BinaryIO] = []
    try:
        if lock >= 0:
            fcntl.flock(lock, fcntl.LOCK_SH)
        for name in names:
            try:
                handle = open(name, "rb", opener=_open_nonblocking)  # noqa: SIM115
            except FileNotFoundError:
                continue
            except OSError:
                if skip_unreadable:
                    continue
                raise
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_mtime < newer_than:
                handle.close()
            else:
                handles.append(handle)
    except BaseException:
        for opened in handles:
            opened.close()
        raise
    finally:
        if lock >= 0:
            os.close(lock)  # releases the lock
    return handles


def _open_nonblocking(name: str, flags: int) -> int:
    """Opening a FIFO for reading blocks until a writer comes; `O_NONBLOCK` changes nothing
    for a regular file."""
    return os.open(name, flags | os.O_NONBLOCK)


def _open_log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
