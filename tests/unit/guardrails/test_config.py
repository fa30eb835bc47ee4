"""`[[guardrails]]` in policy files: parsed into GuardrailConfig, every problem as file:line."""

from __future__ import annotations

from pathlib import Path

from gateway.config import check_config, load_config
from gateway.config.types import GuardrailConfig, RecognizerConfig
from tests.mock_config import MOCK_MODEL

BASE = MOCK_MODEL

GOOD = """\
[[guardrails]]
name = "pii"
type = "pii"
applies_to = "both"
action = "restore"
entities = ["EMAIL_ADDRESS", "EMPLOYEE_ID"]

[[guardrails.recognizers]]
entity = "EMPLOYEE_ID"
patterns = ['EMP-\\d{6}']
context = ["employee"]
score = 0.7

[[guardrails]]
name = "mod"
type = "moderation"
model = "m"
on_error = "allow"
"""


def write(root: Path, policy: str) -> Path:
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "default.toml").write_text(policy)
    path = root / "config.toml"
    path.write_text(BASE)
    return path


def test_parses_into_typed_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    pii, mod = config.policies["default"].guardrails
    assert pii == GuardrailConfig(
        name="pii",
        type="pii",
        applies_to="both",
        action="restore",
        threshold=0.5,
        entities=("EMAIL_ADDRESS", "EMPLOYEE_ID"),
        recognizers=(
            RecognizerConfig(
                entity="EMPLOYEE_ID", patterns=(r"EMP-\d{6}",), context=("employee",), score=0.7
            ),
        ),
    )
    assert (mod.type, mod.model, mod.on_error, mod.action) == ("moderation", "m", "allow", "block")


def test_every_problem_has_its_line(tmp_path: Path) -> None:
    bad = """\
[[guardrails]]
name = "a"
type = "pii"
action = "shred"
colour = "red"

[[guardrails]]
name = "b"
type = "regex"
patterns = ["(unclosed"]
threshold = 2

[[guardrails]]
name = "c"
type = "toxicity"
action = "redact"
entities = ["EMAIL_ADDRESS"]

[[guardrails]]
name = "d"
type = "moderation"
model = "nope"

[[guardrails]]
name = "e"
type = "pii"
applies_to = "output"
action = "restore"
entities = ["PERSON", "SHOE_SIZE"]
"""
    path = write(tmp_path, bad)
    found = [f"{p.line}: {p.message}" for p in check_config(path, env={})]
    assert all(str(p.file).endswith("default.toml") for p in check_config(path, env={}))
    assert found == [
        "4: guardrails[0].action: "
        "must be one of 'block', 'redact', 'mask', 'restore', 'log', got 'shred'",
        "5: unknown key 'colour' in [[guardrails]] 'a'",
        "10: guardrail 'b': patterns[0] is not a valid regex: "
        "missing ), unterminated subpattern at position 0",
        "11: guardrails[1].threshold: must be between 0 and 1, got 2",
        "16: guardrail 'c': type 'toxicity' can only 'block' or 'log'",
        "17: guardrail 'c': 'entities' does not apply to type 'toxicity'",
        "22: guardrail 'd': model 'nope' is not a configured model",
        "28: guardrail 'e': "
        "action 'restore' needs type 'pii' or 'regex' and applies_to 'input' or 'both'",
        "29: guardrail 'e': entity 'PERSON' needs engine = 'ner'",
        "29: guardrail 'e': unknown entity 'SHOE_SIZE'",
    ]
