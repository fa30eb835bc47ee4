"""A real Prometheus on loopback for the e2e tests: the binaries, a skip mark, start and query.

Needs the `prometheus` and `promtool` binaries (Debian package `prometheus`); tests marked
`needs_prometheus` are skipped without them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conditions import wait_until
from tests.procs import free_port
from tests.unit.replay.deploy_exprs import ALERTS

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="needs the prometheus and promtool binaries (Debian: apt-get install prometheus)",
)


class Prometheus:
    """A running Prometheus at `url`, its process to stop when done."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The series instant query `expr` returns now; fails the test if it does not run."""
        response = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        return list(body["data"]["result"])

    def scrapes(self) -> int:
        """How many scrapes of the gateway the last 5 minutes hold."""
        result = self.query('count_over_time(up{job="gateway"}[5m])')
        return int(float(result[0]["value"][1])) if result else 0

    def wait_scrapes(self, more: int, timeout: float = 15) -> None:
        """Wait until `more` scrapes beyond the ones stored now have happened."""
        target = self.scrapes() + more
        wait_until(
            lambda: self.scrapes() >= target,
            timeout,
            0.1,
            "Prometheus stopped scraping the gateway",
        )


def start_prometheus(root: Path, target: str) -> Prometheus:
    """A Prometheus scraping `target` (host:port) every second with the alert rules loaded,
    once it reports ready; its files and TSDB live under `root`."""
    port = free_port()
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ALERTS}\n"
        "scrape_configs:\n  - job_name: gateway\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = root / "prometheus.log"
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process)

    def ready() -> bool:
        assert process.poll() is None, f"Prometheus exited: {log.read_text()}"
        try:
            return httpx.get(prometheus.url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 15, 0.05, "Prometheus did not start")
    return prometheus
