"""The mock's paused turns: Claude's `stop_reason: "pause_turn"`.

A Claude request offering the web search whose last user message says `pause_turn` (or
`pause_turn xN`, N times) is paused: the answer is a short text, a search (`server_tool_use`)
and its results, with `stop_reason: "pause_turn"`. The request that sends that answer back as
its last assistant message (a continuation) is paused again until the assistant message holds
N searches' results, then answered as any search is.

Claude refuses a conversation whose server tool blocks are not as it sent them; so does the
mock (`tool_pairs.check_server_tool_blocks`).
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from gateway.json_types import JSON
from gateway.mock_provider.web_search import anthropic_search_blocks

_PAUSES = re.compile(r"pause_turn(?: x(\d+))?")
PAUSED_TEXT = "Let me search for that."
PAUSED_TOKENS = 12  # a paused answer's output tokens (its text and its search's query)


def wanted_pauses(text: str) -> int:
    """How many times the turn asked by `text` pauses (0: it does not)."""
    found = _PAUSES.search(text)
    if found is None:
        return 0
    return int(found.group(1) or 1)


def searches_done(messages: list[Any]) -> int:
    """The searches the turn being continued already made: the `web_search_tool_result`
    blocks of the assistant message(s) after the last user message."""
    done = 0
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            break
        content = message.get("content")
        if isinstance(content, list):
            done += sum(
                1
                for b in content
                if isinstance(b, dict) and b.get("type") == "web_search_tool_result"
            )
    return done


def paused_search(question: str, messages: list[Any]) -> int | None:
    """The number of the search a turn asked by `question` pauses after (the searches it
    already made), or None when it is not to pause again."""
    done = searches_done(messages)
    return done if done < wanted_pauses(question) else None


def paused_blocks(query: str, done: int) -> list[JSON]:
    """A paused answer's content: a short text, then the search numbered `done` and its
    results (the same search as an unpaused answer's, its id made unique)."""
    use, result, _ = anthropic_search_blocks(query, "")
    block_id = f"srvtoolu_mock{zlib.crc32(f'{query}{done}'.encode()):08x}"
    return [
        {"type": "text", "text": PAUSED_TEXT},
        {**use, "id": block_id},
        {**result, "tool_use_id": block_id},
    ]
