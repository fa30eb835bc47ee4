"""What prompt versions requests used, from the request log: what the immutability check of
`gateway.config.prompts` holds each prompt file to (`used_versions`).

The log and its rotated files are read at every config load that has prompts: 600 MB at the
default rotation (6 files of 100 MB), 2 to 4 s when every record used a prompt, on every start
and on every reload (a prompt edited, a policy changed). A process remembers, per file it read
(by device and inode, so a file rotated to `path.1` is known under its new name), how far it read
(the end of the last whole line) and what those lines held, and reads only what was appended
since: a reload reads the records written since the last load. It also keeps those marks beside
the log (`gateway.config.read_marks`), so a new process (a start, a worker replaced) reads only
what was appended since any process last read. A file is read again from its start when it is
shorter than what was read (truncated), or when its first bytes differ from those read before
(a new file given a deleted one's inode; one truncated and written again).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

import orjson

from gateway.config.read_marks import FileRead, Used, load_marks, save_marks
from gateway.rotating_files import read_all

# The bytes at a file's start that tell it from another file with the same inode (a record's
# first bytes hold its unique id).
_HEAD_BYTES = 64
_MARK = b'"prompt_hash":"'

# (log path, device, inode) -> what this process read of that file. Only the files of the last
# read of each log path are kept.
_READS: dict[tuple[str, int, int], FileRead] = {}
_LOCK = threading.Lock()  # loads run in threads (reloads) and may overlap (a `check`)


def used_versions(log_path: Path, backups: int) -> Used:
    """(prompt id, version) -> content hash, from every record of the request log (and its
    rotated files) that used a prompt; a later record wins."""
    used: Used = {}
    # Opened under the rotation lock: a rotation while the files were listed and opened one by
    # one could move a file past the reader (`path.1` renamed `path.2` after `path.2` was
    # looked at), and the versions it held were not seen. Never a FIFO (opening blocks) or a
    # device (/dev/zero is one endless line); the loader reports a log path that is not a
    # regular file.
    try:
        handles = read_all(log_path, backups, skip_unreadable=True)
    except OSError:  # the lock file cannot be opened or locked: read as nothing was logged
        return used
    with _LOCK:
        marks = load_marks(log_path) if handles else {}
        reads: dict[tuple[int, int], FileRead] = {}
        for handle in handles:
            with handle:
                status = os.fstat(handle.fileno())
                file_id = (status.st_dev, status.st_ino)
                key = (str(log_path), *file_id)
                known = (_READS.get(key), marks.get(file_id))
                _READS[key] = reads[file_id] = read = _read_on(handle, known, status.st_size)
                used.update(read.used)
        for key in [key for key in _READS if key[0] == str(log_path) and key[1:] not in reads]:
            del _READS[key]
        if reads and reads != marks:
            save_marks(log_path, reads.items())
    return used


def _read_on(
    handle: BinaryIO, known: tuple[FileRead | None, FileRead | None], size: int
) -> FileRead:
    """What `handle`'s file holds now: the read among `known` (this process's, the kept marks')
    that is of this file and reaches furthest, brought up to date (a fresh read when none is)."""
    head = handle.read(_HEAD_BYTES)
    of_this_file = [
        read
        for read in known
        if read is not None and read.offset <= size and head[: len(read.head)] == read.head
    ]
    furthest = max(of_this_file, key=lambda read: read.offset, default=None)
    # A new record (never one of `known`: the caller compares them with what comes back).
    start = FileRead(head, furthest.offset, dict(furthest.used)) if furthest else FileRead(head, 0)
    handle.seek(start.offset)
    for line in handle:
        if _MARK in line:
            _add_record(start.used, line)
        if line.endswith(b"\n"):
            start.offset += len(line)
        # else the last line, unended (being written, or a hand edit's): read again next time
    return start


def _add_record(used: Used, line: bytes) -> None:
    """The prompt version a log line used, into `used`; lines no gateway wrote (hand edits,
    not JSON, not an object, odd values) add nothing, never a failed config load."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    if not isinstance(record, dict):
        return
    prompt_id, version, digest = (
        record.get("prompt_id"),
        record.get("prompt_version"),
        record.get("prompt_hash"),
    )
    if not isinstance(version, int) or isinstance(version, bool):
        return
    if isinstance(prompt_id, str) and isinstance(digest, str) and digest:  # "" names no content
        used[(prompt_id, version)] = digest
