"""Text a client or an upstream wrote, quoted in an error message: bounded and on one line."""

from __future__ import annotations

from gateway.errors import NotFound
from gateway.quoted_text import MESSAGE_MAX_CHARS, QUOTE_MAX_CHARS, capped, quoted

HUGE = "gpt-4o-" + "x" * 100_000


def test_a_short_text_is_quoted_as_it_is() -> None:
    assert quoted("gpt-4o mini") == "gpt-4o mini"
    assert capped("a" * QUOTE_MAX_CHARS) == "a" * QUOTE_MAX_CHARS


def test_a_huge_name_keeps_its_start_and_says_how_much_was_left_out() -> None:
    # One credential-shaped run: the cut stays where it is, or nothing would name it.
    text = quoted(HUGE)
    assert text == HUGE[:QUOTE_MAX_CHARS] + f"... ({len(HUGE) - QUOTE_MAX_CHARS} more characters)"


def test_the_cut_moves_out_of_a_token_it_falls_in() -> None:
    text = "model " + "k" * 400
    assert capped(text) == f"model ... ({len(text) - 6} more characters)"


def test_line_breaks_and_control_characters_are_escaped() -> None:
    forged = "m\nINFO gateway: forged line\r\x1b[31m\u2028end"
    text = quoted(forged)
    assert text == "m\\nINFO gateway: forged line\\r\\x1b[31m\\u2028end"
    assert text.isprintable()
    # Escaped after the cut: an escape is never cut in half, the bound counts the input.
    assert quoted("\n" * 1000, 10) == "\\n" * 10 + "... (990 more characters)"


def test_every_error_message_is_bounded_whatever_it_quotes() -> None:
    error = NotFound(f"no such thing: {'y ' * 50_000}")
    assert len(error.message) < MESSAGE_MAX_CHARS + 40
    assert error.message.startswith("no such thing: y y y")
    assert error.args == (error.message,)
