"""Strict rendering: every placeholder filled, no stray variable, values never re-rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import InvalidRequest
from gateway.prompts.render import render
from tests.unit.prompts.registry import registry


def test_renders_every_message(tmp_path: Path) -> None:
    version = registry(tmp_path)["support-bot"].versions[2]
    assert render("support-bot", version, {"product": "Acme", "plan": 3}) == [
        {"role": "system", "content": "You are Acme's support. Be brief."},
        {"role": "user", "content": "My plan is 3."},
    ]


def test_values_are_text_never_templates(tmp_path: Path) -> None:
    version = registry(tmp_path)["support-bot"].versions[2]
    out = render("support-bot", version, {"product": "{{plan}}", "plan": "{{product}}"})
    assert out[0]["content"] == "You are {{plan}}'s support. Be brief."
    assert out[1]["content"] == "My plan is {{product}}."


@pytest.mark.parametrize(
    ("variables", "code", "param"),
    [
        ({"product": "Acme"}, "prompt_variable_missing", "prompt.variables.plan"),
        (
            {"product": "A", "plan": "p", "tone": "x"},
            "prompt_variable_unknown",
            "prompt.variables.tone",
        ),
        ({"product": ["A"], "plan": "p"}, "prompt_variable_invalid", "prompt.variables.product"),
    ],
)
def test_bad_variables_are_400_naming_them(
    tmp_path: Path, variables: dict[str, object], code: str, param: str
) -> None:
    version = registry(tmp_path)["support-bot"].versions[2]
    with pytest.raises(InvalidRequest) as caught:
        render("support-bot", version, variables)
    assert (caught.value.code, caught.value.param) == (code, param)
    assert param.rsplit(".", 1)[1] in caught.value.message
