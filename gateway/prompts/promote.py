"""`gateway prompts promote`: move an alias to a version when its replay report's gate passed.

The prompt file is rewritten with tomlkit, so its comments and layout stay; the new text is
validated like a reload would before it replaces the old file atomically. The evaluation is
appended to the promoted version as a `[[versions.evals]]` entry (date, report, gate, scores,
whether it was forced or a rollback), which is not part of the version's content hash.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from gateway.config.errors import Problem
from gateway.config.prompts import parse_prompt

# The report's summary figures an evaluation keeps (those a gate usually reads).
SCORES = (
    "similarity_mean",
    "exact_match_rate",
    "error_rate",
    "judge_mean",
    "cost_ratio",
    "latency_ratio",
    "json_valid_rate",
    "tool_agreement_rate",
)


class PromotionError(Exception):
    """The promotion cannot be done (exit 2): a missing version, a report for another prompt."""


@dataclass(frozen=True)
class Evaluation:
    date: str
    report: str
    alias: str
    previous: int | None
    gate: str | None
    passed: bool
    forced: bool
    rollback: bool
    scores: dict[str, float] = field(default_factory=dict)


def gate_of(
    report: dict[str, Any], prompt_id: str, version: int, content_hash: str | None = None
) -> tuple[str | None, bool]:
    """(the gate expression, whether it passed) of a replay report for this prompt version
    (whose content hash is `content_hash`); a report without a gate has not passed."""
    about = report.get("prompt")
    if not isinstance(about, dict):
        # A `--model` replay compared models: its gate says nothing about any prompt version.
        raise PromotionError(
            f"the report evaluated no prompt version (not a `gateway replay --prompt "
            f"{prompt_id} --candidate {version}` report)"
        )
    if (about.get("id"), about.get("candidate")) != (prompt_id, version):
        raise PromotionError(
            f"the report evaluated prompt '{about.get('id')}' version {about.get('candidate')}, "
            f"not '{prompt_id}' version {version}"
        )
    evaluated = about.get("hash")
    if isinstance(evaluated, str) and content_hash is not None and evaluated != content_hash:
        # A version no request has used may still be edited: the report judged other content.
        raise PromotionError(
            f"prompt '{prompt_id}' version {version} changed since the report evaluated it "
            f"(hash {evaluated}, now {content_hash}): replay it again"
        )
    gate = report.get("gate")
    if not isinstance(gate, dict):
        return None, False
    return str(gate.get("expression")), gate.get("passed") is True


def scores_of(report: dict[str, Any]) -> dict[str, float]:
    summary = report.get("summary")
    if not isinstance(summary, dict):
        return {}
    return {name: summary[name] for name in SCORES if isinstance(summary.get(name), int | float)}


def current_version(text: str, alias: str) -> int | None:
    """The version `alias` points at in a prompt file's text, if any."""
    value = tomlkit.parse(text).get("aliases", {}).get(alias)
    if isinstance(value, dict):
        value = value.get("version")
    return value if isinstance(value, int) else None


def promoted(text: str, version: int, evaluation: Evaluation) -> str:
    """The prompt file's text with the alias moved to `version` and the evaluation appended."""
    doc = tomlkit.parse(text)
    versions = doc.get("versions")
    entry = next(
        (v for v in versions or () if isinstance(v, Table) and v.get("version") == version), None
    )
    if entry is None:
        raise PromotionError(f"there is no version {version} in this prompt")
    aliases = doc.get("aliases")
    if aliases is None:
        aliases = doc["aliases"] = tomlkit.table()
    current = aliases.get(evaluation.alias)
    if isinstance(current, dict):
        current["version"] = version
    else:
        aliases[evaluation.alias] = version
    if not isinstance(entry.get("evals"), AoT):
        entry["evals"] = tomlkit.aot()
    entry["evals"].append(_eval_table(evaluation))
    return tomlkit.dumps(doc)


def write_checked(file: Path, text: str) -> None:
    """Replace `file` with `text` atomically, keeping its permissions, after checking it loads
    as a prompt."""
    problems: list[Problem] = []
    if parse_prompt(file, text.encode(), problems, {}) is None:
        raise PromotionError("; ".join(str(p) for p in problems) or "the result does not load")
    mode = stat.S_IMODE(os.stat(file).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        # mkstemp's file is 0600: the gateway may run as another user than the operator.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, file)
    except BaseException:
        os.unlink(tmp)
        raise


def _eval_table(evaluation: Evaluation) -> Table:
    table = tomlkit.table()
    table["date"] = evaluation.date
    table["report"] = evaluation.report
    table["alias"] = evaluation.alias
    if evaluation.previous is not None:
        table["previous"] = evaluation.previous
    table["gate"] = evaluation.gate or ""
    table["passed"] = evaluation.passed
    table["forced"] = evaluation.forced
    table["rollback"] = evaluation.rollback
    scores = tomlkit.inline_table()
    scores.update(evaluation.scores)
    table["scores"] = scores
    return table
