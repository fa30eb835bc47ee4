"""`--gate`: a tiny, safe boolean language over the replay summary. No `eval()`.

    gate       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" gate ")" | comparison
    comparison := operand (OP operand)+        chained like Python: 0.8 <= x < 1
    operand    := NUMBER | NAME | "-" NUMBER
    OP         := < <= > >= == !=  (= is read as ==)

Names are summary fields (`similarity_mean`, `cost_ratio`, ...), checked when the gate is
parsed, before any request is sent. A field can be unknown (null in the report: no costs
logged, no JSON requests...): a comparison with it is unknown, and the logic is three-valued
(Kleene), so `not` of unknown stays unknown. The gate passes only when the result is true.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|<|>|=)"
    r"|(?P<punct>[()\-]))"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_KEYWORDS = {"and", "or", "not"}
MAX_DEPTH = 64


class GateError(ValueError):
    """The gate expression cannot be parsed (a usage error: exit 2)."""


@dataclass(frozen=True)
class Comparison:
    operands: tuple[str | float, ...]
    ops: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Comparison | Not | BoolOp
Values = Mapping[str, object]


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise GateError(f"unexpected character {text[pos:].strip()[0]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        if kind == "op" and value == "=":
            value = "=="
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, names: Collection[str]) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.names = names
        self.depth = 0  # `not`s and parentheses open around the token being parsed

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise GateError("the expression ends too early")
        self.pos += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise GateError("the gate is empty")
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            raise GateError(f"unexpected {extra[1]!r}")
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek() == ("keyword", "or"):
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.peek() == ("keyword", "and"):
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def parse_not(self) -> Node:
        token = self.peek()
        if token == ("keyword", "not"):
            self.take()
            return Not(self._nested(self.parse_not))
        if token == ("punct", "("):
            self.take()
            node = self._nested(self.parse_or)
            if self.peek() != ("punct", ")"):
                raise GateError("missing ')'")
            self.take()
            return node
        return self.parse_comparison()

    def _nested(self, parse: Callable[[], Node]) -> Node:
        """`parse` one level deeper: a gate nests at most `MAX_DEPTH` levels of `not` and
        parentheses (deeper would exhaust the parser's and the evaluation's stack)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GateError(f"the gate nests deeper than {MAX_DEPTH} levels of 'not' and '('")
        node = parse()
        self.depth -= 1
        return node

    def parse_operand(self) -> str | float:
        kind, value = self.take()
        if kind == "number":
            return float(value)
        if (kind, value) == ("punct", "-"):
            kind, value = self.take()
            if kind != "number":
                raise GateError("'-' must be followed by a number")
            return -float(value)
        if kind == "name":
            if value not in self.names:
                close = [n for n in self.names if n.startswith(value)]
                close = close or difflib.get_close_matches(value, list(self.names), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise GateError(
                    f"unknown name {value!r}{hint}; known: {', '.join(sorted(self.names))}"
                )
            return value
        raise GateError(f"expected a name or a number, got {value!r}")

    def parse_comparison(self) -> Comparison:
        start = self.pos
        operands = [self.parse_operand()]
        ops: list[str] = []
        while (token := self.peek()) is not None and token[0] == "op":
            self.take()
            ops.append(token[1])
            operands.append(self.parse_operand())
        if not ops:
            raise GateError(
                f"expected a comparison like 'similarity_mean >= 0.9' near {operands[0]!r}"
            )
        text = "".join(v for _, v in self.tokens[start : self.pos])
        return Comparison(tuple(operands), tuple(ops), text)


@dataclass(frozen=True)
class Gate:
    text: str
    root: Node

    def evaluate(self, values: Values) -> tuple[bool, list[str]]:
        """(passed, one line per comparison: its text, the values it used and its outcome)."""
        lines: list[str] = []
        result = _evaluate(self.root, values, lines)
        return result is True, lines


def parse_gate(text: str, names: Collection[str]) -> Gate:
    return Gate(text, _Parser(text, names).parse())


def _value(operand: str | float, values: Values) -> float | None:
    if isinstance(operand, float):
        return operand
    value = values.get(operand)
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else None


def _evaluate(node: Node, values: Values, lines: list[str]) -> bool | None:
    if isinstance(node, Comparison):
        numbers = [_value(o, values) for o in node.operands]
        known = [n for n in numbers if n is not None]
        shown = ", ".join(
            f"{o} = {_show(values.get(o))}" for o in node.operands if isinstance(o, str)
        )
        outcome: bool | None = None
        if len(known) == len(numbers):
            outcome = all(_OPS[op](known[i], known[i + 1]) for i, op in enumerate(node.ops))
        verdict = {True: "true", False: "FALSE", None: "UNKNOWN"}[outcome]
        lines.append(f"{node.text}: {verdict}" + (f" ({shown})" if shown else ""))
        return outcome
    if isinstance(node, Not):
        inner = _evaluate(node.operand, values, lines)
        return None if inner is None else not inner
    results = [_evaluate(o, values, lines) for o in node.operands]
    if node.op == "and":
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _show(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
