"""gateway.observability.multiproc_scrape: a scrape folds dead workers' counters and
histograms into one file per kind, keeping every total, and forgets their live gauges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.multiproc_scrape import scrape


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def write(path: Path, values: dict[tuple[str, str, tuple[tuple[str, str], ...]], float]) -> None:
    """Values as a worker writes them: (metric, sample name, labels) -> value."""
    mmaped = MmapedDict(str(path))  # type: ignore[no-untyped-call]
    for (metric, name, labels), value in values.items():
        key = mmap_key(metric, name, [k for k, _ in labels], [v for _, v in labels], "help")
        mmaped.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    mmaped.close()  # type: ignore[no-untyped-call]


def served(tmp: Path, pid: int, requests: float) -> None:
    """The files a worker `pid` leaves after `requests` requests of 0.5 s each, one in flight."""
    model = (("model", "m"),)
    write(tmp / f"counter_{pid}.db", {("requests", "requests_total", model): requests})
    write(
        tmp / f"histogram_{pid}.db",
        {
            ("duration", "duration_bucket", (("le", "1.0"),)): requests,
            ("duration", "duration_bucket", (("le", "+Inf"),)): 0.0,
            ("duration", "duration_sum", ()): requests / 2,
        },
    )
    write(tmp / f"gauge_livesum_{pid}.db", {("inflight", "inflight", ()): 1.0})


def totals(tmp: Path) -> dict[str, float]:
    text = scrape(str(tmp)).decode()
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_dead_workers_files_are_folded_and_every_total_stays(tmp_path: Path) -> None:
    """Each replaced worker used to leave its files for the server's life, every one read
    again at every scrape."""
    served(tmp_path, os.getpid(), 4)
    first, second = dead_pid(), dead_pid()
    served(tmp_path, first, 3)
    expected = {
        "requests_total[('model', 'm')]": 7.0,
        "duration_bucket[('le', '1.0')]": 7.0,
        "duration_bucket[('le', '+Inf')]": 7.0,
        "duration_count[]": 7.0,
        "duration_sum[]": 3.5,
        "inflight[]": 1.0,  # the live worker's; the dead one's is forgotten
    }
    assert totals(tmp_path) == expected
    assert totals(tmp_path) == expected  # folded once, not again
    served(tmp_path, second, 5)
    assert totals(tmp_path)["requests_total[('model', 'm')]"] == 12.0
    assert totals(tmp_path)["duration_sum[]"] == 6.0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [
            "compact.lock",
            "counter_dead-2.db",
            "histogram_dead-2.db",
            f"counter_{os.getpid()}.db",
            f"histogram_{os.getpid()}.db",
            f"gauge_livesum_{os.getpid()}.db",
        ]
    )


def test_a_fold_cut_short_is_finished_by_the_next_never_counted_twice(tmp_path: Path) -> None:
    """A worker killed mid-fold leaves the dead files renamed `*.fold` (before its commit) or
    beside the new archive (after it); the next scrape must count each value once."""
    model = (("model", "m"),)
    write(tmp_path / "counter_dead-1.db", {("requests", "requests_total", model): 2.0})
    write(tmp_path / "counter_7.fold", {("requests", "requests_total", model): 3.0})
    assert totals(tmp_path) == {"requests_total[('model', 'm')]": 5.0}  # before the commit
    write(tmp_path / "counter_8.fold", {("requests", "requests_total", model): 4.0})
    write(tmp_path / "counter_dead-3.db", {("requests", "requests_total", model): 9.0})
    assert totals(tmp_path) == {"requests_total[('model', 'm')]": 9.0}  # after it
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "compact.lock",
        "counter_dead-3.db",
    ]
