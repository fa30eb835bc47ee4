"""LangChain's `ChatOpenAI` and `OpenAIEmbeddings` through the gateway, changing only the base
URL: what an app built on LangChain does, answered by the gateway in front of the mock provider."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, SecretStr

from gateway import tokens
from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"Sunny in {city}"


class Weather(BaseModel):
    """The weather the model reports for a city."""

    city: str
    degrees: int


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """The HTTP client of every model here, closed at the end (LangChain's own default client is
    cached for the process and never closed: its sockets would be left open)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture(scope="module")
def gateway_url(gateway: Proc) -> str:
    return gateway.url


def joined(chunks: Sequence[object]) -> AIMessageChunk:
    """A stream's chunks added up, as an app adds them."""
    parts = [chunk for chunk in chunks if isinstance(chunk, AIMessageChunk)]
    assert parts and len(parts) == len(chunks)
    return add_ai_message_chunks(parts[0], *parts[1:])


def chat(url: str, http: httpx.Client, model: str = "gpt-mock", **options: object) -> ChatOpenAI:
    """`ChatOpenAI` pointed at the gateway as an app would point it (no retries unless told)."""
    settings: dict[str, object] = {"max_retries": 0, "http_client": http, **options}
    return ChatOpenAI(
        model=model,
        base_url=url + "/v1",
        api_key=SecretStr(GATEWAY_KEY),
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def llm(gateway_url: str, http: httpx.Client) -> ChatOpenAI:
    return chat(gateway_url, http)


def test_invoke(llm: ChatOpenAI) -> None:
    answer = llm.invoke("Tell me about llamas.")
    assert isinstance(answer, AIMessage)
    assert isinstance(answer.content, str) and answer.content
    assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] > 0
    assert answer.response_metadata["model_name"]
    assert answer.response_metadata["finish_reason"] == "stop"


async def test_ainvoke(llm: ChatOpenAI, gateway_url: str, http: httpx.Client) -> None:
    async with httpx.AsyncClient() as client:
        model = chat(gateway_url, http, http_async_client=client)
        answer = await model.ainvoke([HumanMessage("Tell me about llamas.")])
    assert answer.content == llm.invoke("Tell me about llamas.").content


def test_stream_chunks_and_usage(gateway_url: str, http: httpx.Client) -> None:
    chunks = list(chat(gateway_url, http, stream_usage=True).stream("Tell me about llamas."))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    assert sum(1 for chunk in chunks if chunk.content) > 1
    whole = joined(chunks)
    assert whole.content == chat(gateway_url, http).invoke("Tell me about llamas.").content
    usage = whole.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_batch(llm: ChatOpenAI) -> None:
    answers = llm.batch(["Say hi.", "Tell me about llamas.", "Be brief."])
    assert len(answers) == 3 and all(answer.content for answer in answers)


def test_tool_call_round_trip(gateway_url: str, http: httpx.Client) -> None:
    with_tools = chat(gateway_url, http).bind_tools([get_weather])
    question = HumanMessage("Weather in Paris?")
    call = with_tools.invoke([question])
    assert isinstance(call, AIMessage) and len(call.tool_calls) == 1
    assert call.tool_calls[0]["name"] == "get_weather"
    assert isinstance(call.tool_calls[0]["args"]["city"], str)
    result = get_weather.invoke(call.tool_calls[0])
    assert isinstance(result, ToolMessage) and result.tool_call_id == call.tool_calls[0]["id"]
    answer = with_tools.invoke([question, call, result])
    assert answer.content and not answer.tool_calls


def test_tool_call_streamed(gateway_url: str, http: httpx.Client) -> None:
    with_tools = chat(gateway_url, http).bind_tools([get_weather], tool_choice="get_weather")
    chunks = list(with_tools.stream("Weather in Paris?"))
    whole = joined(chunks)
    assert isinstance(whole, AIMessageChunk)
    assert [call["name"] for call in whole.tool_calls] == ["get_weather"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output(gateway_url: str, http: httpx.Client, method: str) -> None:
    structured = chat(gateway_url, http).with_structured_output(Weather, method=method)  # type: ignore[arg-type]
    prompt = "Weather in Paris? Answer in JSON with city and degrees."
    answer = structured.invoke(prompt)
    assert isinstance(answer, Weather)


# Streamed, langchain-openai dumps the openai SDK's `ContentDoneEvent` (its `parsed` typed None)
# and pydantic warns; the same with an OpenAI-format upstream: the two libraries', not ours.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
@pytest.mark.parametrize("streaming", [False, True])
def test_structured_output_by_json_schema_from_an_anthropic_upstream(
    gateway_url: str, http: httpx.Client, streaming: bool
) -> None:
    """The schema reaches Claude as a tool it must call; its input is the answer's text."""
    llm = chat(gateway_url, http, model="claude-mock", streaming=streaming)
    structured = llm.with_structured_output(Weather, method="json_schema", include_raw=True)
    answer = structured.invoke("Weather in Paris?")
    assert isinstance(answer, dict) and answer["parsing_error"] is None
    assert isinstance(answer["parsed"], Weather)
    assert not answer["raw"].tool_calls


def test_responses_api(gateway_url: str, http: httpx.Client) -> None:
    llm = chat(gateway_url, http, use_responses_api=True)
    answer = llm.invoke("Tell me about llamas.")
    assert answer.text and answer.usage_metadata is not None
    chunks = list(llm.stream("Tell me about llamas."))
    whole = joined(chunks)
    assert whole.text == answer.text


def test_responses_api_tool_round_trip(gateway_url: str, http: httpx.Client) -> None:
    with_tools = chat(gateway_url, http, use_responses_api=True).bind_tools([get_weather])
    question = HumanMessage("Weather in Paris?")
    call = with_tools.invoke([question])
    assert [c["name"] for c in call.tool_calls] == ["get_weather"]
    result = get_weather.invoke(call.tool_calls[0])
    answer = with_tools.invoke([question, call, result])
    assert answer.text and not answer.tool_calls


def embeddings(url: str, http: httpx.Client, **options: object) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(
        model="embed",
        base_url=url + "/v1",
        http_client=http,
        api_key=SecretStr(GATEWAY_KEY),
        max_retries=0,
        **options,  # type: ignore[arg-type]
    )


def test_embeddings_token_arrays(gateway_url: str, http: httpx.Client) -> None:
    # The default (check_embedding_ctx_length=True) sends tiktoken token arrays, not text; its
    # tokenizer is cl100k_base, which tiktoken would download: the gateway's bundled copy serves.
    tokens.encoding("cl100k_base")
    vectors = embeddings(gateway_url, http).embed_documents(
        ["llamas", "alpacas are related to llamas"]
    )
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert embeddings(gateway_url, http).embed_query("llamas") == vectors[0]


def test_embeddings_text(gateway_url: str, http: httpx.Client) -> None:
    model = embeddings(gateway_url, http, check_embedding_ctx_length=False)
    assert len(model.embed_documents(["llamas", "alpacas"])) == 2
