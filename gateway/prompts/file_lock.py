"""One prompt file's read-edit-write, excluded against every other gateway command's.

`locked(file)` holds an exclusive `flock` on `.<name>.lock` beside the prompt file for as long
as its block runs; a command that finds it held waits, at most `LOCK_TIMEOUT_S`, then gives
up with `LockError`. The lock is on a file of its own, not on the prompt file: a rewrite
replaces the prompt file by rename, and a lock on the replaced inode does not exclude the next
command, which opens (and locks) the new one. The lock file is never removed: a command
waiting on it would then hold its lock on an unlinked inode while a newcomer locked a new file.

Its name starts with a dot and does not end in `.toml`, so the registry never reads it as a
prompt and the reload watcher does not react to it. Editors take no such lock: an operator's
edit made while a command rewrites the file can still be lost.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_TIMEOUT_S = 10.0
# How often a waiting command tries the lock again.
_RETRY_S = 0.02


class LockError(Exception):
    """The prompt file's lock was not taken: another gateway command held it for all of the
    wait, or the lock file cannot be opened."""


def lock_path(file: Path) -> Path:
    return file.parent / f".{file.name}.lock"


@contextmanager
def locked(file: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold `file`'s lock for the block, waiting for it at most `timeout` seconds (default
    `LOCK_TIMEOUT_S`). `LockError` when another command held it for all of that wait, or the
    lock file cannot be opened."""
    wait = LOCK_TIMEOUT_S if timeout is None else timeout
    try:
        fd = _open(file)
    except OSError as exc:
        raise LockError(f"cannot open the lock file {lock_path(file)}: {exc.strerror}") from None
    try:
        _acquire(fd, file, wait)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open(file: Path) -> int:
    """The lock file, made with the prompt file's permissions (a gateway command may run as
    another user than the one who made it; reading is all a `flock` needs)."""
    mode = stat.S_IMODE(os.stat(file).st_mode)
    path = lock_path(file)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, mode)  # not narrowed by the umask
    except OSError:
        os.close(fd)
        raise
    return fd


def _acquire(fd: int, file: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            raise LockError(
                f"{file} is being changed by another gateway command (its lock "
                f"{lock_path(file)} was held for {wait:g} s); nothing was changed, try again"
            )
        time.sleep(_RETRY_S)
