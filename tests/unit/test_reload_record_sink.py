"""A reload that changes `[logging] max_bytes`, `backups` or `record_batch_ms` applies them to
the running request-log writer (it reported them applied and kept those of the start)."""

from __future__ import annotations

from pathlib import Path

from gateway.app import create_app
from gateway.config import load_config
from gateway.pipeline.services import Services
from gateway.reload import Reloader
from tests.mock_config import MOCK_MODEL


async def test_a_reload_applies_the_request_logs_rotation_and_batching(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[logging]\nbackups = 0\n" + MOCK_MODEL)
    app = create_app(load_config(path, env={}), watch_config=False)
    services: Services = app.state.services
    reloader = Reloader(services, path)
    log = tmp_path / "logs" / "requests.jsonl"
    try:
        path.write_text("[logging]\nmax_bytes = 1\nbackups = 2\nrecord_batch_ms = 0\n" + MOCK_MODEL)
        result = await reloader.reload("SIGHUP")
        assert (result["result"], result["restart_required"]) == ("ok", [])
        # record_batch_ms = 0: written by the caller at once, not gathered on the loop for 50 ms.
        for number in range(3):
            services.recorder.write({"id": str(number)})
        # max_bytes = 1: each line past the first starts a new file; backups = 2 keeps two.
        kept = [log.with_name("requests.jsonl.2"), log.with_name("requests.jsonl.1"), log]
        assert [p.read_text() for p in kept] == ['{"id":"0"}\n', '{"id":"1"}\n', '{"id":"2"}\n']
    finally:
        services.recorder.close()
