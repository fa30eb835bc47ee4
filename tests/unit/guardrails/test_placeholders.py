"""`restore` placeholders: a request that already holds placeholder-like text."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import GuardrailSet, decide
from gateway.guardrails.window import TextWindow


def test_restore_never_hands_out_a_placeholder_the_request_already_holds(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    guards = compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="both", action="restore")
    )
    text = "Template: Dear <EMAIL_ADDRESS_1>, ... Send it to jane.doe@example.org"
    placeholders = Placeholders()
    (guard,) = guards.input
    sent = decide(text, [(guard, guard.check(text))], placeholders).text
    assert sent == "Template: Dear <EMAIL_ADDRESS_1>, ... Send it to <EMAIL_ADDRESS_2>"
    # The answer echoes it: the user's own text comes back as it was.
    window = TextWindow(GuardrailSet(), placeholders, lambda d: None)
    assert window.push(sent) + window.flush() == text


def test_a_placeholder_is_never_released_in_halves_by_another_guardrails_hold(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    # The regex holds its width (8 characters) back, which ends inside the placeholder.
    guards = compile_set(
        GuardrailConfig(
            name="codes",
            type="regex",
            applies_to="output",
            action="redact",
            patterns=(r"PRJ-\d{4}",),
        )
    )
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", "ana@example.com")
    window = TextWindow(guards, placeholders, lambda d: None)
    released = [window.push(f"Write to {token} or "), window.push("PRJ-1234 today"), window.flush()]
    assert "".join(released) == "Write to ana@example.com or <CODES> today"
    assert released[0] == "Write to "


def test_a_seeded_map_keeps_earlier_placeholders_and_numbers_after_them() -> None:
    earlier = Placeholders()
    first = earlier.placeholder("EMAIL_ADDRESS", "ana@example.com")
    earlier.placeholder("EMAIL_ADDRESS", "bo@example.com")
    seeded = Placeholders.seeded({**earlier.by_placeholder, "<bad>": "x", "<IP_9>": 5})  # type: ignore[dict-item]
    assert seeded.placeholder("EMAIL_ADDRESS", "ana@example.com") == first
    assert seeded.placeholder("EMAIL_ADDRESS", "cy@example.com") == "<EMAIL_ADDRESS_3>"
    assert seeded.restore(f"to {first}") == "to ana@example.com"
    assert seeded.by_placeholder.keys() == {first, "<EMAIL_ADDRESS_2>", "<EMAIL_ADDRESS_3>"}
