"""Azure OpenAI's Responses API through an `type = "azure"` provider with `responses = true`:
`/v1/responses` passes through to `{base_url}/openai/responses?api-version=...` with the Azure
deployment as `model` and the key as `api-key`, streams and `GET`/`DELETE` of a response id
included. Before, an Azure provider always translated Responses to chat completions, which the
codex models (Responses only) refuse with Azure's 400: Codex could not use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.types.responses import Response

from tests.e2e.azure_responses import TEXT
from tests.e2e.compat_upstream import CompatUpstream, running_compat_upstream
from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_SECRET
from tests.procs import Proc, start_gateway


def _config(upstream: str) -> str:
    providers = ""
    for name, extra in (("azure-responses", "responses = true\n"), ("azure-chat", "")):
        providers += (
            f'[[providers]]\nname = "{name}"\ntype = "azure"\nbase_url = "{upstream}"\n'
            f'api_version = "2025-04-01-preview"\napi_key_env = "TEST_PROVIDER_KEY"\n{extra}\n'
        )
    models = ""
    for name, provider in (("codex", "azure-responses"), ("codex-via-chat", "azure-chat")):
        models += (
            f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "{provider}"\n'
            'model = "gpt-5-codex-prod"\nreasoning = true\n\n'
        )
    return providers + models + '[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, CompatUpstream]]:
    root: Path = tmp_path_factory.mktemp("azure-responses")
    with running_compat_upstream() as upstream:
        (root / "config.toml").write_text(_config(upstream.url))
        env = {"TEST_PROVIDER_KEY": PROVIDER_SECRET, "GW_KEY": GATEWAY_KEY}
        gateway = start_gateway(root / "config.toml", env=env)
        try:
            yield gateway, upstream
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def client(served: tuple[Proc, CompatUpstream]) -> Iterator[openai.OpenAI]:
    url = served[0].url + "/v1"
    with openai.OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize("stream", [False, True])
def test_responses_pass_through_to_azures_responses_api(
    served: tuple[Proc, CompatUpstream], client: openai.OpenAI, stream: bool
) -> None:
    upstream = served[1]
    before = len(upstream.received)
    answer: Response
    if stream:
        with client.responses.stream(model="codex", input="fix the bug") as events:
            answer = events.get_final_response()
    else:
        answer = client.responses.create(model="codex", input="fix the bug")
    assert answer.output_text == TEXT and answer.id.startswith("resp_azure")
    assert answer.usage is not None and answer.usage.output_tokens == 4
    (sent,) = upstream.received[before:]
    assert (sent.path, sent.query) == ("/openai/responses", "api-version=2025-04-01-preview")
    assert sent.headers["api-key"] == PROVIDER_SECRET and "authorization" not in sent.headers
    assert sent.body["model"] == "gpt-5-codex-prod" and sent.body["input"] == "fix the bug"


def test_a_response_is_fetched_and_deleted_at_azure(
    served: tuple[Proc, CompatUpstream], client: openai.OpenAI
) -> None:
    upstream = served[1]
    made = client.responses.create(model="codex", input="fix the bug")
    before = len(upstream.received)
    assert client.responses.retrieve(made.id).output_text == TEXT
    client.responses.delete(made.id)
    fetched, deleted = upstream.received[before:]
    assert fetched.path == deleted.path == f"/openai/responses/{made.id}"
    assert fetched.query == "api-version=2025-04-01-preview"
    assert deleted.headers["api-key"] == PROVIDER_SECRET
    assert made.id not in upstream.responses
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_translated_to_chat_the_codex_model_refuses_as_azure_does(client: openai.OpenAI) -> None:
    # What an Azure provider without `responses = true` meets with a Responses-only model.
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="codex-via-chat", input="fix the bug")
    assert "chatCompletion operation does not work" in refused.value.message
