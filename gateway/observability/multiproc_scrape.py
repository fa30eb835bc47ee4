"""One scrape of prometheus-client's multiprocess directory (`gateway serve --workers N`).

Each worker writes `<kind>_<pid>.db` files, and a scrape sums every file. A worker that dies
(killed, out of memory) is replaced by a new process with a new pid, so without care the
directory grows by a set of files at every replacement, read again at every scrape, for the
server's life. A scrape now first settles the dead workers:

- their live gauges are forgotten, as the library asks (`mark_process_dead`): what they were
  doing ended with them;
- their counters and histograms are added into one file per kind (`counter_dead-<n>.db`,
  `histogram_dead-<n>.db`, n counting the folds) and their own files deleted: what they
  served stays in the sums.

Folding must never be seen half done (the dead values counted twice, or not at all: a counter
that goes down is a reset to Prometheus, and `increase()` jumps by its whole value), so it runs
under an exclusive `flock` on `compact.lock` in the directory, and every scrape reads the files
under a shared one. A scrape that finds another worker folding skips its own fold (the next
scrape does it) and reads once the other is done.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.mmap_dict import MmapedDict

from gateway.observability.multiproc import dead_workers

LOCK_NAME = "compact.lock"  # not `*.db`: the start's emptying and the collector pass it over
# The kinds whose values outlive their process; their files can be added up key by key
# (a histogram's files hold each bucket's own count, not the running total).
FOLDED = ("counter", "histogram")


def scrape(directory: str) -> bytes:
    """The Prometheus text of every worker's values in `directory`, dead workers settled."""
    with open(os.path.join(directory, LOCK_NAME), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another worker folds: read once it is done
        else:
            settle_dead_workers(directory)
        fcntl.flock(lock, fcntl.LOCK_SH)  # waits while another worker folds
        try:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def settle_dead_workers(directory: str) -> None:
    """Forget the dead workers' live gauges; fold their counters and histograms into the
    `<kind>_dead-<generation>.db` files. The caller holds the exclusive lock."""
    dead = dead_workers(directory)
    for pid in dead:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    for kind in FOLDED:
        _fold(Path(directory), kind, dead)


def _fold(directory: Path, kind: str, dead: set[int]) -> None:
    """A fold that stops half way (the worker killed mid-fold) is finished by the next one:
    the dead files are first renamed `*.fold` (out of the scrapes), the new archive's rename
    to the next generation is the commit, the older archive and the `*.fold` files go after.
    So several archives mean the newest holds everything; one, that `*.fold` files are not in
    it yet."""
    archives = sorted(directory.glob(f"{kind}_dead-*.db"), key=_generation)
    pending = list(directory.glob(f"{kind}_*.fold"))
    if len(archives) > 1:
        for path in (*archives[:-1], *pending):
            path.unlink(missing_ok=True)
        archives, pending = archives[-1:], []
    for pid in dead:
        source = directory / f"{kind}_{pid}.db"
        if source.exists():
            os.replace(source, source.with_suffix(".fold"))
            pending.append(source.with_suffix(".fold"))
    if not pending:
        return
    totals: dict[str, float] = {}
    for path in (*archives, *pending):
        for key, value in _values(path):
            totals[key] = totals.get(key, 0.0) + value
    generation = _generation(archives[-1]) + 1 if archives else 1
    written = directory / f"{kind}_dead-{generation}.tmp"  # not `*.db`: no scrape reads it
    written.unlink(missing_ok=True)
    values = MmapedDict(str(written))  # type: ignore[no-untyped-call]
    try:
        for key, value in totals.items():
            values.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        values.close()  # type: ignore[no-untyped-call]
    os.replace(written, written.with_suffix(".db"))  # the commit
    for path in (*archives, *pending):
        path.unlink(missing_ok=True)


def _generation(archive: Path) -> int:
    return int(archive.stem.rsplit("-", 1)[1])


def _values(path: Path) -> Iterator[tuple[str, float]]:
    entries = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
    for key, value, _timestamp, _position in entries:
        yield key, value
