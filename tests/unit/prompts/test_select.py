"""Which version a request gets: by number, alias, default, and the sticky canary split."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import InvalidRequest, NotFound
from gateway.prompts.select import PromptRef, choose, requested
from tests.unit.prompts.registry import registry


def test_body_field_and_header() -> None:
    assert requested({}, None) is None
    ref = requested({"prompt": {"id": "a", "version": 2, "variables": {"x": "1"}}}, None)
    assert ref == PromptRef("a", 2, {"x": "1"})
    assert requested({}, "support-bot@canary") == PromptRef("support-bot", "canary", {})
    # The header names the prompt; the body may still carry its variables.
    with_vars = requested({"prompt": {"variables": {"x": "1"}}}, "a@3")
    assert with_vars == PromptRef("a", "3", {"x": "1"})
    # Spaces around the parts are no part of the names.
    assert requested({}, " support-bot @ canary ") == PromptRef("support-bot", "canary", {})
    # A header pinning a version of one prompt never applies it to another named in the body.
    with pytest.raises(InvalidRequest):
        requested({"prompt": {"id": "other"}}, "support-bot@2")
    assert requested({"prompt": {"id": "a"}}, "a@2") == PromptRef("a", "2", {})
    # Nor a version the body asks for silently replaced by the header's, or the other way.
    for body_version in (1, "1", "canary"):
        with pytest.raises(InvalidRequest) as both:
            requested({"prompt": {"version": body_version}}, "a@2")
        assert both.value.param == "prompt.version"
    assert requested({"prompt": {"version": 2}}, "a@2") == PromptRef("a", "2", {})
    assert requested({"prompt": {"version": 2}}, "a") == PromptRef("a", 2, {})
    assert requested({"prompt": {"id": "a"}}, " ") == PromptRef("a", None, {})
    # OpenAI's stored prompts keep their own fields: they go upstream as sent.
    assert requested({"prompt": {"id": "pmpt_1", "x": 1}}, None) == PromptRef("pmpt_1")


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "support-bot"},
        {"prompt": {"version": 1}},
        {"prompt": {"id": "a", "version": True}},
        {"prompt": {"id": "a", "variables": ["x"]}},
        # A misspelt field was ignored: "verison" served the production alias.
        {"prompt": {"id": "a", "verison": 2}},
    ],
)
def test_malformed_references_are_400(body: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        requested(body, None)


def test_versions_by_number_alias_and_default(tmp_path: Path) -> None:
    prompts = registry(tmp_path)
    assert choose(prompts, PromptRef("support-bot", 2), "u")[1:] == (
        prompts["support-bot"].versions[2],
        None,
    )
    assert choose(prompts, PromptRef("support-bot", "2"), "u")[1].version == 2
    assert choose(prompts, PromptRef("support-bot", "canary"), "u")[1:] == (
        prompts["support-bot"].versions[2],
        "canary",
    )
    for missing in (PromptRef("nope"), PromptRef("support-bot", 9), PromptRef("support-bot", "x")):
        with pytest.raises(NotFound):
            choose(prompts, missing, "u")


@pytest.mark.parametrize("written", ["\u00b2", "\u0661", "\uff12"])
def test_a_version_in_other_digits_than_ascii_is_no_number(tmp_path: Path, written: str) -> None:
    # "²".isdigit() holds but int("²") raises: it was a 500 internal_error.
    with pytest.raises(NotFound) as refused:
        choose(registry(tmp_path), PromptRef("support-bot", written), "u")
    assert refused.value.code == "prompt_version_not_found"


def test_a_version_of_5000_digits_is_not_found(tmp_path: Path) -> None:
    # int() refuses a string past 4,300 digits (a ValueError): it was a 500 internal_error.
    with pytest.raises(NotFound) as refused:
        choose(registry(tmp_path), PromptRef("support-bot", "1" * 5000), "u")
    assert refused.value.code == "prompt_version_not_found"
    assert refused.value.message.startswith("the prompt 'support-bot' has no version 1111")
    assert len(refused.value.message) < 400


def test_without_production_the_latest_version(tmp_path: Path) -> None:
    text = (
        '[[versions]]\nversion = 1\nmessages = [{role = "system", content = "a"}]\n'
        '[[versions]]\nversion = 3\nmessages = [{role = "system", content = "b"}]\n'
    )
    prompts = registry(tmp_path, plain=text)
    assert choose(prompts, PromptRef("plain"), "u")[1:] == (prompts["plain"].versions[3], None)


def test_canary_takes_its_share_of_production_stickily(tmp_path: Path) -> None:
    prompts = registry(tmp_path)
    users = [f"user:{i}" for i in range(2000)]
    got = {u: choose(prompts, PromptRef("support-bot"), u)[1:] for u in users}
    canary = sum(1 for version, alias in got.values() if alias == "canary")
    assert 0.07 * 2000 <= canary <= 0.13 * 2000  # 10 % +- 3 %
    assert all(alias in ("production", "canary") for _, alias in got.values())
    assert all(v.version == (2 if a == "canary" else 1) for v, a in got.values())
    again = {u: choose(prompts, PromptRef("support-bot", "production"), u)[1:] for u in users}
    assert again == got
