"""The gateway's refusals as a LangChain app meets them: the `openai` SDK's exception classes
through `ChatOpenAI` and `ChatAnthropic`, and the retries their `max_retries` asks for."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from tests.conditions import wait_until
from tests.e2e.conftest import PROVIDER_SECRET
from tests.e2e.raw_client import connect
from tests.e2e.records import read_records
from tests.procs import Proc, start_gateway

SPENT_KEY = "sk-langchain-spent"
SINGLE_KEY = "sk-langchain-single"
# A day's budget already spent: every request is a 429 whose Retry-After is the end of the day.
POLICY = "[limits]\nbudget_usd_per_day = 0.000000001\n"


def config(upstream: Proc, log: Path) -> str:
    return f"""
[logging]
path = "{log}"

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream.url}/v1"
api_key_env = "TEST_PROVIDER_KEY"

[[models]]
name = "gpt-mock"
[[models.deployments]]
provider = "oai"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[models]]
name = "hang"
[[models.deployments]]
provider = "oai"
model = "fail-timeout"
first_token_timeout_s = 60

[[keys]]
id = "spent"
policy = "spent"
key_sha256 = "{hashlib.sha256(SPENT_KEY.encode()).hexdigest()}"

[[keys]]
id = "single"
policy = "single"
key_sha256 = "{hashlib.sha256(SINGLE_KEY.encode()).hexdigest()}"
"""


@pytest.fixture(scope="module")
def spent(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    """A gateway whose one key has spent its day's budget (its request log at `log_path`)."""
    root = tmp_path_factory.mktemp("langchain-errors")
    (root / "policies").mkdir()
    (root / "policies" / "spent.toml").write_text(POLICY)
    (root / "policies" / "single.toml").write_text("[limits]\nmax_concurrent = 1\n")
    log = root / "requests.jsonl"
    path = root / "config.toml"
    path.write_text(config(mock_upstream, log))
    proc = start_gateway(path, env={"TEST_PROVIDER_KEY": PROVIDER_SECRET})
    proc.log_path = log
    body = {"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"authorization": f"Bearer {SPENT_KEY}"}
    with httpx.Client(base_url=proc.url) as client:
        wait_until(
            lambda: client.post("/v1/chat/completions", json=body, headers=auth).status_code == 429,
            5.0,
            message="the budget was never spent",
        )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def rejections(log: Path, key_id: str = "spent") -> int:
    return sum(
        1 for record in read_records(log) if record["status"] == 429 and record["key_id"] == key_id
    )


def hold_the_only_slot(gateway: Proc) -> socket.socket:
    """A streamed request of the `single` key that the upstream never answers, sent on a raw
    socket: it holds the key's one concurrency slot until the socket is closed."""
    body = json.dumps({"model": "hang", "messages": [{"role": "user", "content": "hi"}]}).encode()
    sock = connect(gateway)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n"
        + f"authorization: Bearer {SINGLE_KEY}\r\ncontent-type: application/json\r\n".encode()
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def test_concurrency_429_is_retried_max_retries_times(spent: Proc, http: httpx.Client) -> None:
    log = spent.log_path
    assert log is not None
    llm = ChatOpenAI(
        model="gpt-mock",
        base_url=spent.url + "/v1",
        api_key=SecretStr(SINGLE_KEY),
        max_retries=2,
        http_client=http,
    )
    with hold_the_only_slot(spent):
        probe = {"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]}
        auth = {"authorization": f"Bearer {SINGLE_KEY}"}
        wait_until(
            lambda: (
                http.post(spent.url + "/v1/chat/completions", json=probe, headers=auth).status_code
                == 429
            ),
            5.0,
            message="the slot was never held",
        )
        before = wait_until(lambda: rejections(log, "single") or None, 5.0, message="no 429")
        with pytest.raises(openai.RateLimitError) as raised:
            llm.invoke("hi")
        # A short Retry-After (the slot may free any moment): the SDK under LangChain waits it
        # and tries again, max_retries times, before the app sees the error.
        assert int(raised.value.response.headers["retry-after"]) <= 60
        wait_until(lambda: rejections(log, "single") == before + 3, 5.0, message="not 3 more 429s")


def test_budget_429_is_a_rate_limit_error_not_retried(spent: Proc, http: httpx.Client) -> None:
    log = spent.log_path
    assert log is not None
    llm = ChatOpenAI(
        model="gpt-mock",
        base_url=spent.url + "/v1",
        api_key=SecretStr(SPENT_KEY),
        max_retries=2,
        http_client=http,
    )
    before = wait_until(lambda: rejections(log) or None, 5.0, message="no 429 logged")
    with pytest.raises(openai.RateLimitError) as raised:
        llm.invoke("hi")
    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"]
    assert isinstance(raised.value.body, dict) and raised.value.body["code"]
    # max_retries=2, yet one call: the openai SDK retries a 429 unless its Retry-After is past
    # two minutes (the budget's is hours), so the app is not held waiting for the next day.
    wait_until(lambda: rejections(log) == before + 1, 5.0, message="not 1 more 429")
    assert rejections(log) == before + 1


def test_unknown_key_is_an_authentication_error(spent: Proc, http: httpx.Client) -> None:
    llm = ChatOpenAI(
        model="gpt-mock",
        base_url=spent.url + "/v1",
        api_key=SecretStr("sk-nobody"),
        max_retries=2,
        http_client=http,
    )
    with pytest.raises(openai.AuthenticationError) as raised:
        llm.invoke("hi")
    assert raised.value.status_code == 401


def test_anthropic_unknown_key_is_an_authentication_error(spent: Proc, http: httpx.Client) -> None:
    llm = ChatAnthropic(
        model_name="gpt-mock",
        base_url=spent.url,
        api_key=SecretStr("sk-nobody"),
        max_retries=0,
        timeout=None,
        stop=None,
    )
    with pytest.raises(anthropic.AuthenticationError) as raised:
        llm.invoke("hi")
    assert raised.value.status_code == 401
