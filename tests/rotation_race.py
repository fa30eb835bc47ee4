"""A rotation by another process that arrives just as a reader opens its first file: the race
a reader of rotated files must not lose (gateway/rotating_files.py `read_all`)."""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.rotating_files import lock_path, rotate


def _rotated_if_free(path: Path, backups: int) -> bool:
    """Rotate `path` as a writer does, holding its lock exclusively; False (nothing done) when
    a reader holds it."""
    lock = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        rotate(path, backups)
        return True
    finally:
        os.close(lock)


@contextlib.contextmanager
def rotation_at_first_open(path: Path, backups: int) -> Iterator[None]:
    """Rotate `path` at the first file the code inside opens: at once when its rotation lock
    is free, else (a reader holds it) when the code inside is done, as a writer waiting for the
    lock would. `path.lock` must exist, as it does beside any log the gateway wrote."""
    real_open: Callable[..., object] = io.open
    waiting: list[bool] = []
    opened: list[bool] = []

    def hooked(file: object, *args: object, **kwargs: object) -> object:
        if not opened:
            opened.append(True)
            waiting.append(not _rotated_if_free(path, backups))
        return real_open(file, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(io, "open", hooked)
        patch.setattr(builtins, "open", hooked)
        yield
    assert opened, "nothing was opened"
    if waiting[0]:
        assert _rotated_if_free(path, backups)
