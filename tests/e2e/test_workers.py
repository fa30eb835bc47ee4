"""Several worker processes: /metrics stays true when a worker dies and is replaced, and across
restarts that share an operator's PROMETHEUS_MULTIPROC_DIR; the memory state's sizes add up over
the workers in one scrape, and the latest budget reading wins there; the workers' temporary
directories go when the server stops."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.conditions import wait_until
from tests.e2e import workers_setup
from tests.e2e.workers_setup import AUTH, ENV, chat, replaced, two_workers, write_config
from tests.procs import Proc, start_gateway

# This module's upstream (one token a second), not the session's: pytest finds it by its name.
slow_upstream = workers_setup.slow_upstream


def samples(gateway: Proc, name: str) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_a_dead_workers_inflight_requests_leave_the_gauge(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    gateway = start_gateway(write_config(tmp_path, slow_upstream), workers=2, env=ENV)
    try:
        old = wait_until(lambda: two_workers(gateway), 10)
        body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with (
            httpx.Client(base_url=gateway.url, timeout=30) as client,
            client.stream("POST", "/v1/chat/completions", json=body, headers=AUTH) as stream,
        ):
            assert stream.status_code == 200
            wait_until(lambda: samples(gateway, "gateway_inflight_requests") == 1, 10)
            for pid in old:  # the worker serving the stream is one of them
                os.kill(pid, signal.SIGKILL)
        # uvicorn starts a worker in place of each one that died.
        wait_until(lambda: replaced(gateway, old), 20)
        assert samples(gateway, "gateway_inflight_requests") == 0
        chat(gateway)
        assert samples(gateway, "gateway_requests_total") == 1
    finally:
        gateway.stop()


def test_replaced_workers_files_are_folded_and_their_counts_stay(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """Every replaced worker left its files in the directory for the server's life (read at
    every scrape); a scrape now folds them into one file per kind, keeping their counts."""
    directory = tmp_path / "metrics"
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    gateway = start_gateway(write_config(tmp_path, slow_upstream), workers=2, env=env)
    try:
        old = wait_until(lambda: two_workers(gateway), 10)
        for _ in range(3):
            chat(gateway)
        # Counted within 2 ms of the response (docs/request-log.md): before the kill.
        wait_until(lambda: samples(gateway, "gateway_requests_total") == 3, 10)
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: replaced(gateway, old), 20)
        assert samples(gateway, "gateway_requests_total") == 3
        left = [path.name for path in directory.iterdir() if any(str(p) in path.name for p in old)]
        assert left == []
        assert [path.name for path in directory.glob("counter_dead-*.db")] == ["counter_dead-1.db"]
        chat(gateway)
        assert samples(gateway, "gateway_requests_total") == 4
    finally:
        gateway.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_named_multiprocess_directory_starts_empty(
    tmp_path: Path, slow_upstream: Proc, workers: int
) -> None:
    """The operator's directory (here reached through a symlink, with a file of their own) is
    emptied of an earlier run's values, not removed: the count starts again from zero."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "README").write_text("the operator's\n")
    link = tmp_path / "metrics-link"
    link.symlink_to(directory)
    config = write_config(tmp_path, slow_upstream)
    for run in range(2):
        env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(link)}
        gateway = start_gateway(config, workers=workers if run else 1, env=env)
        try:
            chat(gateway)
            assert samples(gateway, "gateway_requests_total") == 1
        finally:
            gateway.stop()
    assert (directory / "README").read_text() == "the operator's\n"


def cached_chat(gateway: Proc, content: str) -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": content}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200 and response.headers["x-gateway-cache"] == "miss"


def written(directory: Path, name: str, mode: str = "livesum") -> dict[int, float]:
    """pid -> the value of gauge `name` each worker wrote to its multiprocess file (no scrape
    needed: the files are read here)."""
    found: dict[int, float] = {}
    for path in directory.glob(f"gauge_{mode}_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            if json.loads(key)[1] == name:
                found[pid] = found.get(pid, 0.0) + value
    return found


def test_the_memory_states_sizes_add_up_over_the_workers_in_one_scrape(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """A scrape is answered by one worker, which can read only its own memory: the other
    worker's cache and limit counters used to reach /metrics only when a scrape happened to
    land on it, and stayed as they were then (or missing) until the next one did. Each worker
    now writes its sizes to the shared files itself; a dead worker's leave the sum."""
    config = write_config(tmp_path, slow_upstream)
    config.write_text(config.read_text() + 'policy = "cached"\n')
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "cached.toml").write_text(
        '[limits]\nrpm = 1000\n[cache]\nmode = "exact"\n'
    )
    directory = tmp_path / "metrics"
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    gateway = start_gateway(config, workers=2, env=env)
    try:
        pids = wait_until(lambda: two_workers(gateway), 10)
        sent = 0

        def both_hold_answers() -> bool:
            nonlocal sent
            sent += 1  # each on a new connection, which either worker may take
            cached_chat(gateway, f"question {sent}")
            held = written(directory, "gateway_cache_entries")
            return all(held.get(pid, 0) > 0 for pid in pids)

        wait_until(both_hold_answers, 20, message="both workers write their cache's size")

        def all_written() -> dict[int, float] | None:
            found = written(directory, "gateway_cache_entries")
            return found if sum(found.values()) == sent else None

        held = wait_until(all_written, 10, message="every answer stored counted once")
        assert samples(gateway, "gateway_cache_entries") == sent
        windows = written(directory, "gateway_state_entries")  # rpm windows, slots, spend
        assert set(windows) == pids and all(windows.values())
        dead = min(pids)
        os.kill(dead, signal.SIGKILL)
        wait_until(lambda: replaced(gateway, {dead}), 20)
        # The new worker's cache is empty; the dead one's answers are gone with it.
        assert samples(gateway, "gateway_cache_entries") == held[max(pids)]
    finally:
        gateway.stop()


def test_a_raised_budget_shows_in_one_scrape_whichever_worker_read_it_before(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """Each worker writes the budget gauges when a scrape reaches it. They were combined with
    min (remaining) and max (spend) over the workers, so a worker's reading from before the
    budget was raised (or a period began) stayed in the scrape until a scrape reached that
    worker again: Prometheus keeps its connection, so maybe never. The latest reading wins."""
    config = write_config(tmp_path, slow_upstream)
    config.write_text(config.read_text() + 'policy = "budget"\n')
    (tmp_path / "policies").mkdir()
    policy = tmp_path / "policies" / "budget.toml"
    policy.write_text("[limits]\nbudget_usd_per_day = 10.0\n")
    directory = tmp_path / "metrics"
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    gateway = start_gateway(config, workers=2, env=env)
    remaining = "gateway_budget_remaining_usd"
    try:
        pids = wait_until(lambda: two_workers(gateway), 10)

        def both_read() -> bool:
            samples(gateway, remaining)  # a new connection each: either worker may answer
            return set(written(directory, remaining, "livemostrecent")) == pids

        wait_until(both_read, 20, message="a scrape reached each worker")
        assert samples(gateway, remaining) == 10.0
        policy.write_text("[limits]\nbudget_usd_per_day = 100.0\n")
        audit = tmp_path / "logs" / "audit.jsonl"
        wait_until(lambda: reloaded(audit) == pids, 10, message="each worker reloads the edit")
        assert samples(gateway, remaining) == 100.0
    finally:
        gateway.stop()


def reloaded(audit: Path) -> set[int]:
    """The pids that logged a successful reload."""
    if not audit.exists():
        return set()
    lines = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    return {int(line["pid"]) for line in lines if line.get("result") == "ok"}


def made(tmp: Path) -> list[Path]:
    """The metrics and run directories `gateway serve` made in `tmp`."""
    return [*tmp.glob("llm-gateway-metrics-*"), *tmp.glob("llm-gateway-run-*")]


def test_the_temporary_directories_of_workers_go_when_the_server_stops(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """The metrics and run directories made for --workers 2 used to stay in /tmp, two more at
    every start."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    gateway = start_gateway(
        write_config(tmp_path, slow_upstream), workers=2, env={**ENV, "TMPDIR": str(tmp)}
    )
    try:
        assert len(made(tmp)) == 2
        # Each worker's event loop touches its file in the run directory (its heartbeat).
        (run_dir,) = tmp.glob("llm-gateway-run-*")
        since = time.monotonic()
        wait_until(lambda: beats_since(run_dir, since) == two_workers(gateway), 10)
    finally:
        assert gateway.stop() == 0
    assert made(tmp) == []


def beats_since(run_dir: Path, since: float) -> set[int]:
    """The workers whose file was touched after `since` (monotonic)."""
    files = run_dir.glob("worker-*.json")
    return {int(f.stem.split("-")[1]) for f in files if f.stat().st_mtime > since + 0.1}
