"""Pure comparisons of a new answer with the logged one.

- `exact_match`: same text and same tool calls, character for character.
- `similarity`: token-level F1 (the SQuAD answer metric): both answers are lower-cased and
  split into word tokens (Unicode `\\w+`, tool calls included as `name(args)`); F1 of the two
  bags of tokens, from 0.0 (no token in common) to 1.0 (the same tokens, in any order). Two
  empty answers score 1.0. It is cheap and linear, ignores word order and punctuation, and
  does not penalise rephrasing that keeps the words; the HTML report's diffs show order.
- `json_valid`: the whole answer text parses as JSON (no code fences, no prose around it).
- `tool_agreement`: the same tool calls, by function name and canonical JSON arguments,
  order ignored.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from gateway.replay.answers import Answer

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def token_f1(a: str, b: str) -> float:
    """Token-level F1 of two texts, in [0, 1]."""
    left, right = tokens(a), tokens(b)
    if not left and not right:
        return 1.0
    if not left or not right:
        return 0.0
    common = sum((Counter(left) & Counter(right)).values())
    if common == 0:
        return 0.0
    precision = common / len(right)
    recall = common / len(left)
    return 2 * precision * recall / (precision + recall)


def exact_match(old: Answer, new: Answer) -> bool:
    return old.text == new.text and sorted(old.tool_calls, key=repr) == sorted(
        new.tool_calls, key=repr
    )


def similarity(old: Answer, new: Answer) -> float:
    return round(token_f1(old.render(), new.render()), 6)


def json_valid(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def tool_agreement(old: Answer, new: Answer) -> bool | None:
    """Same tool calls (names and arguments, any order); None when the old ones are unknown."""
    if not old.tools_known:
        return None
    return sorted(old.tool_calls, key=repr) == sorted(new.tool_calls, key=repr)
