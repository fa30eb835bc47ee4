"""Read every PromQL expression out of the shipped Grafana dashboard and alert rules.

Shared by the unit test (metric and label names) and the e2e test (a real Prometheus). The
alert file is read without a YAML library: only `expr:` values are needed, plain or `|` blocks.
`left_hand_side` cuts an alert expression down to what it compares with its threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "llm-gateway.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1m",
    "$model": ".*",
    "$team": ".*",
}
_LABEL_VALUES = re.compile(r"^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$")


@dataclass(frozen=True)
class Expression:
    source: str  # "dashboard: <panel title>" / "alert: <name>" / "variable: <name>"
    expr: str


def _walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


def dashboard_expressions(path: Path = DASHBOARD) -> list[Expression]:
    dashboard = json.loads(path.read_text())
    found = []
    for panel in _walk_panels(dashboard["panels"]):
        for target in panel.get("targets") or ():
            found.append(
                Expression(f"dashboard: {panel['title']} ({target['refId']})", target["expr"])
            )
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            found.append(Expression(f"variable: {variable['name']}", text))
    return found


def alert_expressions(path: Path = ALERTS) -> list[Expression]:
    found: list[Expression] = []
    name = "?"
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        alert = re.match(r"\s*-\s*alert:\s*(\S+)", line)
        if alert:
            name = alert.group(1)
        match = re.match(r"(\s*)expr:\s*(.*)$", line)
        i += 1
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value in ("|", "|-", ">", ">-"):
            block = []
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(b for b in block if b)
        found.append(Expression(f"alert: {name}", value))
    return found


def to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced; label_values(m, l) -> m."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    match = _LABEL_VALUES.match(expr.strip())
    return match.group(1) if match else expr


def label_values_label(expr: str) -> str | None:
    match = _LABEL_VALUES.match(expr.strip())
    return match.group(2) if match else None


def left_hand_side(expr: str) -> str:
    """The left operand of the lowest-precedence top-level operator, recursively."""
    expr = _strip_parens(expr.strip())
    for operators in (("or",), ("and", "unless"), ("==", "!=", ">=", "<=", ">", "<")):
        position = _top_level(expr, operators)
        if position is not None:
            return left_hand_side(expr[:position])
    return expr


def _strip_parens(expr: str) -> str:
    while expr.startswith("(") and _closing(expr, 0) == len(expr) - 1:
        expr = expr[1:-1].strip()
    return expr


def _closing(expr: str, start: int) -> int:
    depth = 0
    for i in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return i
    return -1


def _top_level(expr: str, operators: tuple[str, ...]) -> int | None:
    """Index of the first operator outside (), [], {} and quotes; words need word boundaries."""
    depth, quote, i = 0, "", 0
    while i < len(expr):
        char = expr[i]
        if quote:
            quote = "" if char == quote and expr[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            for op in operators:
                if not expr.startswith(op, i):
                    continue
                if op.isalpha() and (
                    re.match(r"\w", expr[i - 1 : i] or " ")
                    or re.match(r"\w", expr[i + len(op) : i + len(op) + 1] or " ")
                ):
                    continue
                if op in (">", "<") and expr[i + 1 : i + 2] == "=":
                    continue
                return i
        i += 1
    return None
