"""Guardrails read the summary a gateway `compaction` item holds (base64 inside
`encrypted_content`, a user message to the model): a client cannot pass text by the input
guardrails by wrapping it as a compaction, and `restore` hides its values from the provider."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.providers.responses.compaction import compaction_item, compaction_summary
from tests.e2e.guarded_gateway import (
    MESSAGE,
    SECRETS,
    auth,
    upstream_requests,
    upstream_saw,
)
from tests.procs import Proc


def _compacted(summary: str) -> dict[str, Any]:
    """A follow-up Responses request whose history is a gateway compaction of `summary`."""
    return {
        "model": "echo",
        "input": [compaction_item(summary), {"role": "user", "content": "go on"}],
    }


def test_a_summary_with_blocked_values_is_blocked_and_sends_nothing(
    guarded: Proc, mock_upstream: Proc
) -> None:
    before = upstream_requests(mock_upstream)
    response = httpx.post(
        guarded.url + "/v1/responses", json=_compacted(MESSAGE), headers=auth("block_in")
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation" and "pii-block" in error["message"]
    assert upstream_requests(mock_upstream) == before


def test_restore_hides_a_summarys_values_from_the_provider(
    guarded: Proc, mock_upstream: Proc
) -> None:
    body = _compacted(f"The user mails {SECRETS[0]}.")
    body["input"].pop()  # `echo` answers with the last user message: the summary's
    response = httpx.post(guarded.url + "/v1/responses", json=body, headers=auth("restore"))
    assert response.status_code == 200, response.text
    seen = upstream_saw(mock_upstream)
    assert "The user mails" in seen and SECRETS[0] not in seen
    assert SECRETS[0] in response.json()["output"][0]["content"][0]["text"]


def test_an_openai_compaction_passes_as_it_came(guarded: Proc, mock_upstream: Proc) -> None:
    """OpenAI's own item is encrypted: nothing to read, left as it is."""
    item = {"type": "compaction", "encrypted_content": "gAAAAB" + "x" * 40}
    assert compaction_summary(item) is None
    body = {"model": "echo", "input": [item, {"role": "user", "content": "hello"}]}
    response = httpx.post(guarded.url + "/v1/responses", json=body, headers=auth("block_in"))
    assert response.status_code == 200, response.text
