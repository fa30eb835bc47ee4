"""`/admin/usage`'s scan of the request log: its totals count as `gateway stats` does."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.http.admin import usage_query
from gateway.observability.usage_scan import scan_usage


def test_the_totals_count_a_stream_broken_after_its_start_as_an_error(tmp_path: Path) -> None:
    # Status 200 with an error_type: the stream broke after its first byte. The groups (as
    # `gateway stats`) counted it as an error and the totals of the same answer did not.
    base = {"ts": 1.0, "key_id": "k", "team": "t", "model": "m", "cost_usd": 0.25}
    records = [
        {**base, "id": "a", "status": 200, "error_type": None},
        {**base, "id": "b", "status": 200, "error_type": "stream_interrupted"},
        {**base, "id": "c", "status": 429, "error_type": "rate_limited", "cost_usd": 0.0},
    ]
    log = tmp_path / "requests.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = scan_usage(usage_query(log, 0.0, None, None, "model"))
    (group,) = result["groups"]
    assert group["errors"] == 2
    assert result["errors"] == group["errors"]
    assert result["cost_usd"] == group["spend_usd"] == 0.5
