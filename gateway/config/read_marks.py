"""How far the request log's files were read for the prompts' immutability check, kept beside
the log (`<log>.prompt-versions`), so a new process reads only what was appended since.

`gateway.config.used_versions` remembers, per file it read, how far it read and the prompt
versions those lines used; a process's memory made reloads cheap, but every start (each worker
of `--workers N`, each replacement of a dead one) still read the whole log: 2 to 4 s at the
default rotation when every record used a prompt (by the records' length). The marks are written
here after a read that moved them, and a process takes, for each file, the marks (its own or the
file's) that reach furthest. They are a saving, never the truth: a mark is used only when the
file's device, inode and first bytes match and the file is at least as long as the mark says,
and a file of marks that cannot be read or parsed, or one entry that is odd, means reading from
the start. The file is replaced whole (a temporary file renamed over it), so a reader never sees
half of one; one that cannot be written (a read-only directory) is left as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

import orjson

from gateway.config.files import read_config_file

log = logging.getLogger("gateway.config")

SUFFIX = ".prompt-versions"
_FORMAT = 1
# Far more than any log's marks take (one line per file, one entry per prompt version used).
_MAX_BYTES = 64 * 1024 * 1024

# (prompt id, version) -> content hash.
Used = dict[tuple[str, int], str]
# A file by (device, inode).
FileId = tuple[int, int]


@dataclass
class FileRead:
    """What was read of one file: its first bytes then (to tell it from another file given the
    same inode), the end of its last whole line read, and what those lines used."""

    head: bytes
    offset: int
    used: Used = field(default_factory=dict)


def marks_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + SUFFIX)


def load_marks(log_path: Path) -> dict[FileId, FileRead]:
    """The marks kept beside `log_path`; none when there are none or they cannot be read."""
    try:
        # Never a FIFO (opening one blocks until a writer comes), a device or a huge file.
        data = orjson.loads(read_config_file(marks_path(log_path), _MAX_BYTES))
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    files = data.get("files")
    return dict(_entries(files)) if isinstance(files, list) else {}


def _entries(files: list[object]) -> Iterator[tuple[FileId, FileRead]]:
    for entry in files:
        if not isinstance(entry, dict):
            continue
        dev, ino, head, offset, used = (
            entry.get(name) for name in ("dev", "ino", "head", "offset", "used")
        )
        if not (_whole(dev) and _whole(ino) and _whole(offset) and isinstance(head, str)):
            continue
        if not isinstance(used, list):
            continue
        try:
            read = FileRead(bytes.fromhex(head), offset, dict(_used(used)))
        except ValueError:
            continue
        yield (dev, ino), read


def _used(items: list[object]) -> Iterator[tuple[tuple[str, int], str]]:
    """Each [prompt id, version, hash]; ValueError for anything else."""
    for item in items:
        if not (isinstance(item, list) and len(item) == 3):
            raise ValueError(item)
        prompt_id, version, digest = item
        if not (isinstance(prompt_id, str) and _whole(version) and isinstance(digest, str)):
            raise ValueError(item)
        yield (prompt_id, version), digest


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def save_marks(log_path: Path, reads: Iterable[tuple[FileId, FileRead]]) -> None:
    """Replace the marks beside `log_path` with `reads` (left as they are when they cannot be
    written: a later process reads more, nothing else)."""
    files = [
        {
            "dev": dev,
            "ino": ino,
            "head": read.head.hex(),
            "offset": read.offset,
            "used": [[name, version, digest] for (name, version), digest in read.used.items()],
        }
        for (dev, ino), read in reads
    ]
    target = marks_path(log_path)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):  # left by a process killed mid-write
            os.unlink(temporary)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        descriptor = os.open(temporary, flags, 0o640)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(orjson.dumps({"format": _FORMAT, "files": files}))
        os.replace(temporary, target)
    except OSError as error:
        log.debug("cannot keep the request log's read marks in %s: %s", target, error)
        try:
            os.unlink(temporary)
        except OSError:
            pass
