"""Every TOML example the docs show loads (operators copy them), and the repo's own files do.

How a block is placed in a config: tests/unit/config/doc_examples.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.doc_examples import REPO, Block, blocks, doc_policies, problems, uncommented

BLOCKS = blocks()
POLICIES = doc_policies(BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_a_doc_example_loads_or_is_refused_as_marked(block: Block, tmp_path: Path) -> None:
    found = problems(block, tmp_path, POLICIES)
    if block.kind == "invalid":
        assert found, f"{block.where}: marked invalid, but the gateway accepts it"
    else:
        assert found == [], f"{block.where}: the example does not load"


def test_the_docs_hold_examples_of_every_kind() -> None:
    kinds = {b.kind.split("/")[0] for b in BLOCKS}
    assert {"config", "policies", "prompts"} <= kinds
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("path", sorted((REPO / "policies").glob("*.toml")), ids=lambda p: p.name)
def test_a_shipped_policy_loads(path: Path, tmp_path: Path) -> None:
    block = Block(path, 1, path.read_text(), f"policies/{path.name}")
    assert problems(block, tmp_path, POLICIES) == []


def test_a_block_marked_invalid_must_be_refused(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- toml: invalid -->\n```toml\n[server]\nport = 0\n```\n\n"
        "<!-- toml: invalid -->\n```toml\n[server]\nport = 8080\n```\n"
    )
    refused, accepted = blocks((doc,))
    assert (refused.kind, refused.line) == ("invalid", 3)
    assert problems(refused, tmp_path / "a", {}) != []
    assert problems(accepted, tmp_path / "b", {}) == []


def test_a_doc_problem_is_reported_at_its_line_in_the_doc(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text('text\n\n```toml\n[state]\nbackend = "mysql"\n```\n')
    (block,) = blocks((doc,))
    (problem,) = problems(block, tmp_path / "root", {})
    assert problem.startswith(f"{doc}:5: state.backend: must be one of")


def test_the_example_config_loads_with_every_commented_setting_switched_on(tmp_path: Path) -> None:
    """An operator uncomments the lines they need: each must land in the table it is shown in."""
    text = uncommented((REPO / "config.example.toml").read_text())
    assert 'policies_dir = "policies"' in text and '[[keys]]\nid = "ci"' in text
    block = Block(REPO / "config.example.toml", 1, text, "config")
    assert problems(block, tmp_path, POLICIES) == []


def test_the_shipped_policy_loads_with_every_commented_setting_switched_on(
    tmp_path: Path,
) -> None:
    text = uncommented((REPO / "policies" / "default.toml").read_text())
    assert "\nrpm = 60" in text
    block = Block(REPO / "policies" / "default.toml", 1, text, "policies/default.toml")
    assert problems(block, tmp_path, POLICIES) == []
