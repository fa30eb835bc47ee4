"""A record whose building fails is still written: what is sure, and `record_error`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.pipeline import record as record_module
from tests.unit.pipeline.test_deferred_records import BODY, HEADERS, make_app


async def test_a_record_that_cannot_be_built_is_written_with_record_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> dict[str, Any]:
        raise OverflowError("a value no record can hold")

    monkeypatch.setattr(record_module, "build_record", broken)
    client, sink, services = make_app(tmp_path)
    async with client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=HEADERS)
        metrics = (await client.get("/metrics")).text
    (record,) = sink.records
    assert record["id"] == response.headers["x-request-id"]
    assert record["status"] == 200 and record["key_id"] == "k" and record["model"] == "m"
    assert "record_error" in record
    assert "gateway_record_errors_total 1.0" in metrics
    assert 'status="200"' in metrics  # still counted as a request
