"""What the e2e tests read off the SDKs' answers, typed: the first tool call or text block of an
answer, and an answer sent back as the next request's assistant turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from anthropic.types import ContentBlockParam, Message, TextBlock, ToolUseBlock
from openai.types.chat import ChatCompletion, ChatCompletionAssistantMessageParam

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageFunctionToolCall as FunctionToolCall
else:
    try:
        from openai.types.chat import ChatCompletionMessageFunctionToolCall as FunctionToolCall
    except ImportError:  # openai before custom tools (the test extra's floor): all are functions
        from openai.types.chat import ChatCompletionMessageToolCall as FunctionToolCall


def function_call(completion: ChatCompletion) -> FunctionToolCall:
    """The answer's first tool call, which must be a function call."""
    calls = completion.choices[0].message.tool_calls
    assert calls is not None and isinstance(calls[0], FunctionToolCall)
    return calls[0]


def assistant_turn(completion: ChatCompletion) -> ChatCompletionAssistantMessageParam:
    """The answer's message as the SDK dumps it, to send back: the fields of an assistant
    message are those of its param (role, content, tool_calls)."""
    dumped = completion.choices[0].message.model_dump(exclude_none=True)
    return cast(ChatCompletionAssistantMessageParam, dumped)


def first_text(message: Message) -> str:
    """The text of the message's first block, which must be a text block."""
    block = message.content[0]
    assert isinstance(block, TextBlock)
    return block.text


def tool_use(message: Message) -> ToolUseBlock:
    """The message's first tool_use block."""
    return next(block for block in message.content if isinstance(block, ToolUseBlock))


def content_params(message: Message) -> list[ContentBlockParam]:
    """The message's blocks as the SDK dumps them, to send back in an assistant turn: each
    block's fields are those of its param."""
    return cast(list[ContentBlockParam], [b.model_dump(exclude_none=True) for b in message.content])
