"""The openai SDK's structured outputs (`chat.completions.parse`, `.stream`) on a Claude model:
the JSON schema reaches the Anthropic upstream as a tool Claude must call, and its input comes
back as the message's text, which the SDK parses into the app's type."""

from __future__ import annotations

import openai
from pydantic import BaseModel

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "Weather in Paris?"}
]


class Weather(BaseModel):
    city: str
    degrees: int
    sunny: bool


def test_parse_gets_the_apps_type(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.parse(
        model="claude-mock", messages=MESSAGES, response_format=Weather
    )
    choice = completion.choices[0]
    assert isinstance(choice.message.parsed, Weather)
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_a_stream_parses_to_the_same(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.parse(
        model="claude-mock", messages=MESSAGES, response_format=Weather
    ).choices[0]
    with oai.chat.completions.stream(
        model="claude-mock", messages=MESSAGES, response_format=Weather
    ) as stream:
        streamed = stream.get_final_completion().choices[0]
    assert streamed.message.parsed == whole.message.parsed
    assert streamed.finish_reason == "stop"
