"""gateway.rotating_files: several processes appending to one rotating file.

Each writer process appends numbered lines through a `JsonlSink` with a tiny `max_bytes`, so
the file rotates hundreds of times under them. The rotation is wrapped to keep open the file it
drops (`path` with `backups = 0`, else `path.<backups>`) and note its size just after: what a
rotation drops by design is what that file held then. When every writer is done, each wrapper
reads its dropped files: the bytes up to that size are the dropped lines, any after it were
written into a file already deleted (lost: a writer checked the path's inode, another process
unlinked the file, the first wrote). Dropped plus kept files must hold every line once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.rotating_files import RotatingFile, Rotation, backup_path, kept_backups, read_all

WRITER = """
import os
import sys
from pathlib import Path

from gateway import rotating_files as rotation
from gateway.observability.audit import AuditLog
from gateway.observability.recorder import JsonlSink

path, out = Path(sys.argv[1]), Path(sys.argv[2])
max_bytes, backups, writer, count, writers = (int(arg) for arg in sys.argv[3:8])
rotate = rotation.rotate
dropped_files = []


def noted(path: Path, backups: int) -> None:
    dropped = rotation.backup_path(path, backups) if backups else path
    handle = dropped.open("rb") if dropped.exists() else None
    rotate(path, backups)
    if handle is not None:
        dropped_files.append((handle, os.fstat(handle.fileno()).st_size))


rotation.rotate = noted
if sys.argv[8] == "audit":
    trail = AuditLog(path, max_bytes, backups)
    for i in range(count):
        trail.write("cli:test", "x", w=writer, i=i)
else:
    sink = JsonlSink(path, max_bytes, backups, handoff_delay_s=0)
    for i in range(count):
        sink.write({"w": writer, "i": i})
    sink.close()
(out / f"done.{writer}").touch()
while len(list(out.glob("done.*"))) < writers:  # until no one writes any more
    os.sched_yield()
with (out / f"dropped.{writer}").open("ab") as dropped, (out / f"late.{writer}").open("ab") as late:
    for handle, size in dropped_files:
        content = handle.read()
        dropped.write(content[:size])
        late.write(content[size:])
"""

WRITERS = 4
LINES = 5000


def lines_of(files: list[Path]) -> list[tuple[int, int]]:
    found = []
    for file in files:
        if file.exists():
            for line in file.read_text().splitlines():
                record = json.loads(line)
                found.append((record["w"], record["i"]))
    return found


@pytest.mark.parametrize("backups", [0, 1])
@pytest.mark.parametrize("kind", ["records", "audit"])
def test_processes_rotating_one_file_lose_and_repeat_no_line(
    tmp_path: Path, kind: str, backups: int
) -> None:
    """The request log's writers (`JsonlSink`) and the audit trail's (`AuditLog`) alike."""
    out = tmp_path / "out"
    out.mkdir()
    path = tmp_path / "r.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    args = [str(path), str(out), "2000", str(backups)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, *args, str(w), str(LINES), str(WRITERS), kind],
            env=env,
        )
        for w in range(WRITERS)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * WRITERS
    late = lines_of(sorted(out.glob("late.*")))
    assert late == [], "lines written into a file after its rotation deleted it: lost"
    dropped = lines_of(sorted(out.glob("dropped.*")))
    assert len(dropped) > 100 * 20, "the file rotated hundreds of times"
    kept = [path] + [backup_path(path, index) for index in range(1, backups + 1)]
    every = sorted(dropped + lines_of(kept))
    assert every == [(w, i) for w in range(WRITERS) for i in range(LINES)]


def test_read_all_opens_the_kept_files_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    appender = RotatingFile(path, max_bytes=10, backups=2)
    for n in range(5):
        appender.append(b"%d-padding\n" % n)
    appender.close()
    handles = read_all(path, backups=2)
    assert [handle.read() for handle in handles] == [b"2-padding\n", b"3-padding\n", b"4-padding\n"]
    for handle in handles:
        handle.close()
    later = os.stat(path).st_mtime + 5
    assert read_all(path, backups=2, newer_than=later) == []


def test_a_rotation_deletes_the_backups_a_larger_setting_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    appender = RotatingFile(path, max_bytes=10, backups=5)
    for n in range(7):
        appender.append(b"%d-padding\n" % n)
    assert all(backup_path(path, index).exists() for index in range(1, 6))
    others = ["t.jsonl.lock", "t.jsonl.07", "t.jsonl.9.gz", "t.jsonl.x", "other.jsonl.9"]
    for name in others[1:]:
        (tmp_path / name).write_bytes(b"not a backup\n")
    appender.rotation = Rotation(max_bytes=10, backups=2)  # a reload lowered it
    appender.append(b"7-padding\n")
    appender.close()
    kept = [path, backup_path(path, 1), backup_path(path, 2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p.name for p in kept] + others)
    assert [p.read_bytes() for p in kept] == [b"7-padding\n", b"6-padding\n", b"5-padding\n"]
    handles = read_all(path, backups=2)
    assert [handle.read() for handle in handles] == [b"5-padding\n", b"6-padding\n", b"7-padding\n"]
    for handle in handles:
        handle.close()


def test_with_no_backups_a_rotation_deletes_every_numbered_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    for index in (1, 2, 12):
        backup_path(path, index).write_bytes(b"old\n")
    appender = RotatingFile(path, max_bytes=10, backups=0)
    appender.append(b"0-padding\n")
    appender.append(b"1-padding\n")
    appender.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl", "t.jsonl.lock"]
    assert path.read_bytes() == b"1-padding\n"


def test_kept_backups_is_the_highest_numbered_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    assert kept_backups(path) == 0 and kept_backups(tmp_path / "no" / "t.jsonl") == 0
    for name in ("t.jsonl.2", "t.jsonl.7", "t.jsonl.08", "t.jsonl.1001", "u.jsonl.9"):
        (tmp_path / name).write_bytes(b"")
    assert kept_backups(path) == 7  # past MAX_BACKUPS (1000) no setting keeps a file
