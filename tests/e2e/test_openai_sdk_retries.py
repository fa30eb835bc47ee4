"""How the official `openai` SDK retries against the gateway's answers: it obeys what they say
(`Retry-After`, `retry-after-ms`, `x-should-retry`), so it waits when waiting helps and raises
at once when nothing will change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.records import read_records, wait_for_record
from tests.procs import Proc, start_gateway

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("retries")
    log = root / "requests.jsonl"
    (root / "config.toml").write_text(
        f'[logging]\npath = "{log}"\n\n'
        f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{mock_upstream.url}/v1"\n\n'
        '[[models]]\nname = "quota"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "fail-quota"\n\n'
        '[[models]]\nname = "hang"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "fail-timeout"\n\n[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'
    )
    proc = start_gateway(root / "config.toml", env={"GW_KEY": GATEWAY_KEY})
    proc.log_path = log
    yield proc
    proc.stop()


def test_an_upstream_out_of_quota_is_raised_at_once_not_retried(gateway: Proc) -> None:
    """OpenAI's 429 `insufficient_quota` will not clear by waiting. Before, the gateway's answer
    (with the bench's `Retry-After: 5`) made the SDK wait and ask twice more, raising after
    10 s; now it says `x-should-retry: false` and the SDK's one request is the only one."""
    log: Path | None = gateway.log_path
    assert log is not None
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=2) as sdk:
        for _ in range(2):  # the upstream's answer, then the bench's (no upstream call)
            with pytest.raises(openai.RateLimitError) as refused:
                sdk.chat.completions.create(model="quota", messages=MESSAGES)
            assert refused.value.code == "insufficient_quota"
            assert refused.value.response.headers["x-should-retry"] == "false"
            wait_for_record(log, refused.value.response.headers["x-request-id"])
    # Records are written in order: when the last one is there, any retry's would be too.
    assert [r["status"] for r in read_records(log) if r["model"] == "quota"] == [429, 429]


def test_an_sdk_timeout_shorter_than_the_upstream_is_recorded_as_the_client_leaving(
    gateway: Proc,
) -> None:
    """`timeout=` shorter than the upstream's answer: the SDK closes its connection and raises
    APITimeoutError; the gateway cancels the upstream call and records 499 `client_closed`
    after its one attempt (no retry, no fallback for a client that left)."""
    log = gateway.log_path
    assert log is not None
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
        with pytest.raises(openai.APITimeoutError):
            sdk.with_options(timeout=0.5).chat.completions.create(model="hang", messages=MESSAGES)

    def hung() -> dict[str, Any] | None:
        return next((r for r in read_records(log) if r["model"] == "hang"), None)

    record = wait_until(hung, 10, message="no record of the request the client left")
    assert (record["status"], record["error_type"]) == (499, "client_closed")
    assert len(record["attempts"]) == 1
