"""The tag labels of a served gateway's /metrics say no more than its request log: with
`[logging] redact_pii_in_logs` an email in a tag is `<EMAIL_ADDRESS>` in both, and a provider
key a client echoed into a tag is `****` in both."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_SECRET, gateway_config
from tests.e2e.records import wait_for_records
from tests.procs import Proc, start_gateway

METRICS = '[metrics]\ntag_labels = ["user", "echo"]\n'
EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def redacting(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc, slow_upstream: Proc
) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("tag-labels")
    log_path = root / "requests.jsonl"
    config = gateway_config(mock_upstream.url, slow_upstream.url, log_path)
    config = METRICS + config.replace("[logging]\n", "[logging]\nredact_pii_in_logs = true\n")
    (root / "config.toml").write_text(config)
    proc = start_gateway(root / "config.toml", env={"TEST_PROVIDER_KEY": PROVIDER_SECRET})
    proc.log_path = log_path
    yield proc
    proc.stop()


def test_tag_labels_are_redacted_and_scrubbed_as_the_record_is(redacting: Proc) -> None:
    with openai.OpenAI(
        base_url=redacting.url + "/v1", api_key=GATEWAY_KEY, max_retries=0
    ) as client:
        client.chat.completions.create(
            model="gpt-mock",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=1,
            extra_headers={"x-gateway-tags": f"user={EMAIL},echo=key {PROVIDER_SECRET}"},
        )
        assert redacting.log_path is not None
        (record,) = wait_for_records(1, redacting.log_path)
        assert record["tags"] == {"user": "<EMAIL_ADDRESS>", "echo": "key ****"}

        def scraped() -> str | None:
            text = httpx.get(redacting.url + "/metrics").text
            return text if "gateway_tag_requests_total{" in text else None

        text = wait_until(scraped, 5, message="no tag series on /metrics")
        assert EMAIL not in text and PROVIDER_SECRET not in text
        assert 'gateway_tag_requests_total{status="200",tag="user",value="<EMAIL_ADDRESS>"}' in text
        assert 'gateway_tag_requests_total{status="200",tag="echo",value="key ****"}' in text
