"""LLM-as-judge: ask a judge model (through the same gateway) to score a new answer 1-10.

The judge sees the conversation, the logged (reference) answer and the new one, and a rubric;
it is asked for `{"score": <1-10>, "reason": "..."}`. Models do not always obey, so the reply
is read leniently: JSON anywhere in the text, else `score: 7` / `7/10`, else a lone number.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.replay.answers import content_text

DEFAULT_RUBRIC = (
    "Score how well the NEW answer serves the user compared with the REFERENCE answer. "
    "10: as good as or better than the reference (correct, complete, follows the requested "
    "format). 7: minor omissions or wording issues. 4: partly wrong or missing important parts. "
    "1: wrong, off-topic, refuses, or breaks the requested format."
)
_SYSTEM = (
    "You are a strict evaluator of AI assistant answers. Reply with a JSON object only: "
    '{"score": <integer 1-10>, "reason": "<one sentence>"}.'
)
_MAX_CHARS = 6000
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_LABELLED = re.compile(r"score\W{0,5}(\d+(?:\.\d+)?)", re.IGNORECASE)
_OUT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[:_MAX_CHARS] + " [...]"


def _conversation(request: dict[str, Any]) -> str:
    lines = []
    system = content_text(request.get("system"))  # Anthropic's: a string or a list of text blocks
    if system:
        lines.append(f"system: {system}")
    messages = request.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            lines.append(f"{message.get('role')}: {content_text(message.get('content'))}")
    return _clip("\n".join(lines))


def judge_request(
    model: str, request: dict[str, Any], reference: str, answer: str, rubric: str
) -> dict[str, Any]:
    """The chat completion body that asks the judge model for a score."""
    prompt = (
        f"Rubric: {rubric}\n\n"
        f"<conversation>\n{_conversation(request)}\n</conversation>\n\n"
        f"<reference_answer>\n{_clip(reference)}\n</reference_answer>\n\n"
        f"<new_answer>\n{_clip(answer)}\n</new_answer>\n\n"
        'Reply with {"score": <1-10>, "reason": "..."} only.'
    )
    return {
        "model": model,
        "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
        "temperature": 0,
        "max_tokens": 200,
        "response_format": {"type": "json_object"},
    }


def _valid(score: float) -> float | None:
    return score if 1 <= score <= 10 else None


def _score(raw: object) -> float | None:
    """A JSON value as a score in 1..10, or None: a bool, "x", [] and an integer of 400 digits
    (no float holds it) are no score."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        return _valid(float(raw))
    except (ValueError, OverflowError):
        return None


def parse_score(text: str) -> tuple[float | None, str | None]:
    """(score in 1..10, reason) from a judge's reply; (None, None) when no score can be read."""
    candidates = [text.strip()] + _OBJECT.findall(text)
    fenced = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    candidates.insert(1, fenced)
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            score = _score(data.get("score", data.get("rating")))
            if score is not None:
                reason = data.get("reason") or data.get("explanation")
                return score, str(reason) if reason is not None else None
        elif not isinstance(data, str) and (score := _score(data)) is not None:
            return score, None
    for pattern in (_LABELLED, _OUT_OF):
        match = pattern.search(text)
        if match and _valid(float(match.group(1))) is not None:
            return float(match.group(1)), None
    numbers = [float(n) for n in _NUMBER.findall(text) if _valid(float(n)) is not None]
    if len(numbers) == 1:
        return numbers[0], None
    return None, None
