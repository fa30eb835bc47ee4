"""`used_versions`: the prompt versions the request log says were used, read incrementally."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config import used_versions as module
from gateway.config.read_marks import marks_path
from gateway.config.used_versions import used_versions
from gateway.rotating_files import lock_path
from tests.rotation_race import rotation_at_first_open


def _record(version: int, digest: str, prompt_id: str = "a") -> str:
    return (
        f'{{"id":"req_{version:032x}","prompt_id":"{prompt_id}",'
        f'"prompt_version":{version},"prompt_hash":"{digest}"}}\n'
    )


def test_used_versions_read_the_log_and_its_rotations(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.with_name("requests.jsonl.1").write_text(
        '{"prompt_id":"a","prompt_version":1,"prompt_hash":"h1"}\n'
    )
    log.write_text(
        '{"id":"x","prompt_id":null}\nnot json "prompt_hash":"\n'
        '{"prompt_id":"a","prompt_version":2,"prompt_hash":"h2"}\n'
        # Lines no gateway wrote (hand edits): skipped, never a failed config load.
        '[{"prompt_id":"a","prompt_version":3,"prompt_hash":"h3"}]\n'
        '{"prompt_id":"a","prompt_version":true,"prompt_hash":"h4"}\n'
        '{"prompt_id":"a","prompt_version":5,"prompt_hash":"h5","prompt_hash":["x"]}\n'
    )
    assert used_versions(log, backups=5) == {("a", 1): "h1", ("a", 2): "h2"}


def test_used_versions_never_open_a_file_that_is_not_regular(tmp_path: Path) -> None:
    """Opening a FIFO blocked `gateway check` for ever (and /dev/zero is one endless line)."""
    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    found: list[dict[tuple[str, int], str]] = []
    reader = threading.Thread(target=lambda: found.append(used_versions(fifo, 0)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # let the blocked open return, so the thread ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert found == [{}]


def test_used_versions_see_every_file_when_the_log_rotates_while_they_are_read(
    tmp_path: Path,
) -> None:
    # The files were listed and opened one by one without the rotation lock: a rotation just
    # then renamed requests.jsonl.1 to .2 after .2 was looked at, and version 1 was not seen,
    # so its prompt file could be edited in place.
    log = tmp_path / "requests.jsonl"
    log.with_name("requests.jsonl.1").write_text(
        '{"prompt_id":"a","prompt_version":1,"prompt_hash":"h1"}\n'
    )
    log.write_text('{"prompt_id":"a","prompt_version":2,"prompt_hash":"h2"}\n')
    lock_path(log).touch()
    with rotation_at_first_open(log, backups=2):
        used = used_versions(log, backups=2)
    assert used == {("a", 1): "h1", ("a", 2): "h2"}
    assert log.with_name("requests.jsonl.2").exists()  # the rotation did happen, after the read


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The log lines `used_versions` reads a record from, from here on."""
    lines: list[bytes] = []
    add = module._add_record

    def counted(used: dict[tuple[str, int], str], line: bytes) -> None:
        lines.append(line)
        add(used, line)

    monkeypatch.setattr(module, "_add_record", counted)
    return lines


def test_a_second_read_reads_only_what_was_appended(tmp_path: Path, parsed: list[bytes]) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1") + _record(2, "h2"))
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2"}
    assert len(parsed) == 2
    with log.open("a") as handle:
        handle.write(_record(3, "h3") + _record(2, "h2b"))  # a later record wins
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2b", ("a", 3): "h3"}
    assert len(parsed) == 4
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2b", ("a", 3): "h3"}
    assert len(parsed) == 4  # nothing new: nothing read


def test_a_rotated_file_is_known_under_its_new_name(tmp_path: Path, parsed: list[bytes]) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1"))
    assert used_versions(log, 2) == {("a", 1): "h1"}
    log.rename(log.with_name("requests.jsonl.1"))
    log.write_text(_record(2, "h2"))
    assert used_versions(log, 2) == {("a", 1): "h1", ("a", 2): "h2"}
    assert len(parsed) == 2  # the new file's record only
    # The files gone are forgotten: one entry per file of the log's last read.
    log.with_name("requests.jsonl.1").unlink()
    assert used_versions(log, 2) == {("a", 2): "h2"}
    assert len([key for key in module._READS if key[0] == str(log)]) == 1


def test_a_file_truncated_or_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1") + _record(2, "h2"))
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2"}
    log.write_text(_record(3, "h3"))  # truncated (copytruncate), then written: shorter
    assert used_versions(log, 0) == {("a", 3): "h3"}
    with log.open("r+") as handle:  # the same inode, as long or longer, other first bytes
        handle.write(_record(4, "h4", prompt_id="b") + _record(5, "h5", prompt_id="b"))
    assert used_versions(log, 0) == {("b", 4): "h4", ("b", 5): "h5"}


def test_a_line_being_written_is_read_whole_once_it_is(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    whole = _record(2, "h2")
    log.write_text(_record(1, "h1") + whole[:30])
    assert used_versions(log, 0) == {("a", 1): "h1"}
    with log.open("a") as handle:
        handle.write(whole[30:-1])  # complete JSON, its line break not yet written
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2"}
    with log.open("a") as handle:
        handle.write("\n" + _record(3, "h3"))
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2", ("a", 3): "h3"}


def _new_process() -> None:
    """Forget what this process read, as a new process (a start, a worker replaced) has."""
    module._READS.clear()


def test_a_new_process_reads_only_what_was_appended_since_the_kept_marks(
    tmp_path: Path, parsed: list[bytes]
) -> None:
    log = tmp_path / "requests.jsonl"
    log.with_name("requests.jsonl.1").write_text(_record(1, "h1"))
    log.write_text(_record(2, "h2"))
    assert used_versions(log, 1) == {("a", 1): "h1", ("a", 2): "h2"}
    assert marks_path(log).exists()
    _new_process()
    with log.open("a") as handle:
        handle.write(_record(3, "h3"))
    assert used_versions(log, 1) == {("a", 1): "h1", ("a", 2): "h2", ("a", 3): "h3"}
    assert len(parsed) == 3  # both files once, then the appended record alone
    _new_process()
    assert used_versions(log, 1) == {("a", 1): "h1", ("a", 2): "h2", ("a", 3): "h3"}
    assert len(parsed) == 3


def test_the_read_that_reaches_furthest_is_taken(tmp_path: Path, parsed: list[bytes]) -> None:
    """This process's own read or the kept marks (another process's), whichever is further."""
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1"))
    used_versions(log, 0)
    behind = dict(module._READS)
    with log.open("a") as handle:
        handle.write(_record(2, "h2"))
    _new_process()
    used_versions(log, 0)  # another process reads on: the marks are now further
    module._READS.clear()
    module._READS.update(behind)
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2"}
    assert len(parsed) == 2  # each record once
    marks_path(log).write_bytes(b"")  # now this process's own read is the further one
    with log.open("a") as handle:
        handle.write(_record(3, "h3"))
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2", ("a", 3): "h3"}
    assert len(parsed) == 3


def _marks_of(log: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(marks_path(log).read_bytes())
    return data


@pytest.mark.parametrize(
    "spoil",
    [
        lambda data: b"not json",
        lambda data: orjson.dumps([data]),
        lambda data: orjson.dumps({**data, "format": 2}),
        lambda data: orjson.dumps({**data, "files": {}}),
        # Another file's first bytes on this inode; beyond the file's end; odd fields.
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "head": "00ff"}]}),
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "offset": 10**9}]}),
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "offset": -1}]}),
        lambda data: orjson.dumps(
            {**data, "files": [{**data["files"][0], "used": [["a", True, "h9"]]}]}
        ),
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "head": "zz"}]}),
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "used": [["a", 1]]}]}),
        lambda data: orjson.dumps({**data, "files": [{**data["files"][0], "used": {}}]}),
        lambda data: orjson.dumps({**data, "files": [7]}),
    ],
)
def test_marks_that_do_not_fit_mean_reading_from_the_start(
    tmp_path: Path, parsed: list[bytes], spoil: Callable[[dict[str, Any]], bytes]
) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1") + _record(2, "h2"))
    used_versions(log, 0)
    marks_path(log).write_bytes(spoil(_marks_of(log)))
    _new_process()
    assert used_versions(log, 0) == {("a", 1): "h1", ("a", 2): "h2"}
    assert len(parsed) == 4  # read whole twice
    assert _marks_of(log)["files"][0]["offset"] == log.stat().st_size  # and kept right again


def test_marks_that_cannot_be_kept_change_nothing_else(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1"))
    marks_path(log).mkdir()  # neither readable as marks nor replaceable by a file
    assert used_versions(log, 0) == {("a", 1): "h1"}
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "requests.jsonl",
        "requests.jsonl.prompt-versions",
    ]


def test_marks_that_are_no_regular_file_are_passed_over_without_blocking(tmp_path: Path) -> None:
    """A FIFO in their place blocked the load (opening one waits for a writer)."""
    log = tmp_path / "requests.jsonl"
    log.write_text(_record(1, "h1"))
    os.mkfifo(marks_path(log))
    found: list[dict[tuple[str, int], str]] = []
    reader = threading.Thread(target=lambda: found.append(used_versions(log, 0)), daemon=True)
    reader.start()
    reader.join(5)
    blocked = reader.is_alive()
    if blocked:  # let the blocked open return, so the thread ends
        os.close(os.open(marks_path(log), os.O_WRONLY | os.O_NONBLOCK))
    assert not blocked
    assert found == [{("a", 1): "h1"}]
    assert marks_path(log).is_file()  # replaced by the marks of this read
