"""Reading a config, policy or prompt file: a regular file of bounded size, or a refusal.

The reload reads these files while holding the reload lock, so a read must always end: a FIFO
would block it forever (and with it every later reload and the shutdown), and a symlink to
`/dev/zero` would fill memory. `read_config_file` follows symlinks (Kubernetes ConfigMaps are
symlinks) and refuses anything that is not then a regular file, or that is larger than
`MAX_FILE_BYTES`, with an `OSError` whose `strerror` says why: callers report it as
`file:1: cannot read ...: <why>`, as they do for any unreadable file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 16 * 1024 * 1024


class UnreadableFile(OSError):
    """A path that exists but is no regular file, or is too large to be a config file."""


def read_config_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `path`, at most `limit` of them.

    Raises FileNotFoundError when it does not exist, `UnreadableFile` when it (after
    resolving symlinks) is not a regular file or holds more than `limit` bytes, and any other
    `OSError` the system gives.
    """
    _check_kind(path, os.stat(path).st_mode)
    # O_NONBLOCK: should the path become a FIFO between the stat and the open, the open
    # still returns at once (and the fstat below refuses it); a regular file ignores the flag.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        _check_kind(path, os.fstat(fd).st_mode)
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise UnreadableFile(
            errno.EFBIG, f"larger than {limit:,} bytes, too large for a config file", str(path)
        )
    return content


def _check_kind(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise UnreadableFile(errno.EINVAL, f"not a regular file ({_kind(mode)})", str(path))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
