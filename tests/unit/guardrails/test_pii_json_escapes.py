"""PII in JSON text (tool-call arguments, string literals in code): a redaction never splits an
escape, so the arguments stay valid JSON with the same keys, and a value right after an escape
(`\\n4111 ...`) is found as it would be after a space."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.compiled import GuardrailSet, decide
from gateway.guardrails.window import TextWindow

# (arguments as the model wrote them, the value's entity)
CASES = [
    ({"to": "Hi,\njane@example.com"}, "EMAIL_ADDRESS"),
    ({"body": "Dear team,\n\njane.doe@example.org wrote:"}, "EMAIL_ADDRESS"),
    ({"cc": "\tbob+billing@example.com"}, "EMAIL_ADDRESS"),
    ({"name": 'Bob "B"\nbob@example.com'}, "EMAIL_ADDRESS"),
    ({"note": "card:\n4111 1111 1111 1111"}, "CREDIT_CARD"),
    ({"note": "IBAN\nDE89 3704 0044 0532 0130 00"}, "IBAN_CODE"),
    ({"host": "server\n192.168.1.20"}, "IP_ADDRESS"),
    ({"note": "line1\n+1 415 555 2671"}, "PHONE_NUMBER"),
]


@pytest.fixture
def guards(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(GuardrailConfig(name="pii", type="pii", applies_to="both", action="redact"))


def _checked(redacted: str, arguments: dict[str, str], entity: str) -> None:
    parsed = json.loads(redacted)  # still JSON
    assert parsed.keys() == arguments.keys()
    assert f"<{entity}>" in redacted
    (before,) = [v for v in arguments.values()]
    (after,) = [v for v in parsed.values()]
    # The escaped character before the value is kept: only the value was replaced.
    kept = before[: max(before.rfind("\n"), before.rfind("\t")) + 1]
    assert kept and after.startswith(kept)


@pytest.mark.parametrize("ascii_only", [True, False])
@pytest.mark.parametrize(("arguments", "entity"), CASES)
def test_a_redaction_in_arguments_leaves_valid_json(
    guards: GuardrailSet, arguments: dict[str, str], entity: str, ascii_only: bool
) -> None:
    text = json.dumps(arguments, ensure_ascii=ascii_only)
    guard = guards.input[0]
    _checked(decide(text, [(guard, guard.check(text))], None).text, arguments, entity)


@pytest.mark.parametrize(("arguments", "entity"), CASES)
def test_a_redaction_in_streamed_arguments_leaves_valid_json(
    guards: GuardrailSet, arguments: dict[str, str], entity: str
) -> None:
    text = json.dumps(arguments)
    window = TextWindow(guards, None, lambda d: None, json_string=True)
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    streamed = "".join(window.push(piece) for piece in pieces) + window.flush()
    _checked(streamed, arguments, entity)


@pytest.mark.parametrize(
    "value",
    [
        "see https://example.com/a\nnext line",
        "path https://example.com/a\\b end",
        "x https://example.com/\u00e9t\u00e9 y",
    ],
)
def test_a_url_ends_before_an_escape(compile_set: Callable[..., GuardrailSet], value: str) -> None:
    # A URL's path takes a backslash: cut inside `\\n`, `\\\\` or `\\u00e9`, the rest of the
    # escape would read as letters or as another character (`\\b`, a backspace).
    guards = compile_set(
        GuardrailConfig(name="urls", type="pii", action="redact", entities=("URL",))
    )
    text = json.dumps({"u": value})
    guard = guards.input[0]
    redacted = json.loads(decide(text, [(guard, guard.check(text))], None).text)["u"]
    assert redacted.startswith(value[: value.index("https")] + "<URL>")
    tail = redacted[redacted.index("<URL>") + 5 :]
    assert value.endswith(tail)  # what follows the URL is the text as written
