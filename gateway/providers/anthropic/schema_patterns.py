"""The `pattern`s of an Anthropic client's JSON schemas that OpenAI refuses, left out of what
goes to an OpenAI-format upstream (its tools' `input_schema`, its structured output's schema).

Anthropic takes a schema without compiling its patterns. OpenAI compiles every `pattern` of a
function's `parameters` (and of a `json_schema` response format) with Python's `re`, and
refuses the whole request when one does not compile: 400 `invalid_function_parameters`
"Invalid schema for function 'Artifact': '^(?!__.*__$)[^\\p{Cc}\\p{Cf}...]{1,200}$' is not a
'regex'." Claude Code writes its schemas in JavaScript's dialect, whose Unicode property
escapes (`\\p{Cc}`) Python's `re` does not know; from 2.1.265 on its built-in `Artifact` tool
has one, sent with every request, and every request of Claude Code to an OpenAI deployment
failed. A pattern Python's `re` cannot compile is left out, the rest of the schema kept: the
model is asked for the same shape, and the client still checks what the model wrote against its
own schema. A pattern that compiles stays, lookarounds included (OpenAI takes them).

The walk follows the keywords whose values are schemas (a property named `pattern`, such as
Claude Code's Grep tool's, is a property, not a constraint), down to `MAX_DEPTH` levels; the
schema is copied only where something is left out, the client's own never changed.
"""

from __future__ import annotations

import functools
import re

import orjson

# Keywords whose value maps names to schemas, holds a list of schemas, or is one.
_SCHEMA_MAPS = frozenset(
    ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
)
_SCHEMA_LISTS = frozenset(("anyOf", "allOf", "oneOf", "prefixItems", "items"))
_SCHEMA_ONE = frozenset(
    (
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "propertyNames",
        "contains",
        "not",
        "if",
        "then",
        "else",
    )
)
_SCHEMA_KEYS = _SCHEMA_MAPS | _SCHEMA_LISTS | _SCHEMA_ONE
_PATTERN_KEY = b'"pattern":"'
# Deeper than this a schema is sent as it is (no client tool nests so far).
MAX_DEPTH = 64
# Longer patterns are compiled each time rather than remembered.
_REMEMBERED_LENGTH = 1024


def openai_schema(schema: object, depth: int = 0) -> object:
    """`schema` without the `pattern`s Python's `re` cannot compile (the same object when it
    has none)."""
    if type(schema) is not dict or depth > MAX_DEPTH:
        return schema
    if depth == 0 and not _has_pattern(schema):
        return schema
    kept: dict[str, object] | None = None
    for key, value in schema.items():
        if key == "pattern":
            if type(value) is str and not compiles(value):
                kept = dict(schema) if kept is None else kept
                del kept[key]
            continue
        if key not in _SCHEMA_KEYS:
            continue  # (most keys of most schemas: `type`, `description`, ...)
        inner = _inner(key, value, depth + 1)
        if inner is not value:
            kept = dict(schema) if kept is None else kept
            kept[key] = inner
    return schema if kept is None else kept


def _has_pattern(schema: dict[str, object]) -> bool:
    """Whether some object of `schema` has a `pattern` string: its compact JSON then holds
    `"pattern":"` (inside a JSON string a quote is escaped, so nothing else does). A schema
    serialized in about a microsecond is then walked only when it has one (Claude Code sends
    30 tools or more with every request, a few with patterns); one orjson cannot serialize
    (nested deeper than it goes) is walked."""
    try:
        return _PATTERN_KEY in orjson.dumps(schema)
    except orjson.JSONEncodeError:
        return True


def _inner(key: str, value: object, depth: int) -> object:
    """The value of keyword `key` with its schemas walked (the same object when unchanged)."""
    if key in _SCHEMA_MAPS and type(value) is dict:
        walked: dict[str, object] | None = None
        for name, inner in value.items():
            new = openai_schema(inner, depth)
            if new is not inner:
                walked = dict(value) if walked is None else walked
                walked[name] = new
        return value if walked is None else walked
    if key in _SCHEMA_LISTS and type(value) is list:
        items: list[object] | None = None
        for index, inner in enumerate(value):
            new = openai_schema(inner, depth)
            if new is not inner:
                items = list(value) if items is None else items
                items[index] = new
        return value if items is None else items
    if key in _SCHEMA_ONE:
        return openai_schema(value, depth)
    return value


def compiles(pattern: str) -> bool:
    """Whether Python's `re` compiles `pattern` (as OpenAI's schema check does)."""
    if len(pattern) <= _REMEMBERED_LENGTH:
        return _compiles(pattern)
    return _compiles.__wrapped__(pattern)


@functools.lru_cache(maxsize=1024)
def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return False
    return True
