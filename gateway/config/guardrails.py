"""`[[guardrails]]` of a policy: the rules that tie a guardrail's keys to its type.

Keys, kinds and allowed values come from the spec of `GuardrailConfig`; this module checks which
keys apply to which type, which actions each type can take, PII entities and their engine,
custom recognizers, regexes that compile, and a moderation model that is configured.
"""

from __future__ import annotations

import re

from gateway.config.document import Doc, Entries, Table, entry_name
from gateway.config.guardrail_catalog import DEFAULT_THRESHOLDS, NER_ENTITIES, PII_ENTITIES
from gateway.config.locate import KeyPath
from gateway.config.specs import spec_of
from gateway.config.types import GuardrailConfig, RecognizerConfig

GUARDRAIL = spec_of(GuardrailConfig)
RECOGNIZER = spec_of(RecognizerConfig)

# Keys that only mean something for some guardrail types.
_KEYS_BY_TYPE = {
    "entities": ("pii", "regex"),
    "engine": ("pii",),
    "recognizers": ("pii",),
    "patterns": ("regex",),
    "deny_list": ("regex", "toxicity", "prompt_injection"),
    "model": ("moderation",),
}


def guardrails(doc: Doc, entries: Entries, models: frozenset[str]) -> tuple[GuardrailConfig, ...]:
    """The valid `[[guardrails]]` of a policy, in file order; reports every problem.

    `models` are the configured model names; when empty, a moderation model is not checked.
    """
    found: list[GuardrailConfig] = []
    names: set[str] = set()
    for i, raw in entries:
        path: KeyPath = ("guardrails", i)
        before = len(doc.problems)
        where = entry_name("guardrails", i, raw.get("name"))
        values = doc.fields(raw, path, f"in {where}", GUARDRAIL)
        name, kind = values.get("name"), values.get("type")
        label = f"guardrail '{name}'" if name else entry_name("guardrails", i, None)
        if name in names:
            doc.report(path + ("name",), f"duplicate guardrail name '{name}'")
        elif name:
            names.add(name)
        if kind is None:
            continue
        _check_type_rules(doc, path, label, kind, raw, values)
        recognizers = _recognizers(doc, path, label, values.get("recognizers", []))
        _check_patterns(doc, path, label, values.get("patterns", ()))
        if kind == "regex" and not values.get("patterns") and not values.get("deny_list"):
            doc.report(path, f"{label}: type 'regex' needs patterns or deny_list")
        model = values.get("model")
        if kind == "moderation" and model is None:
            doc.report(path, f"{label}: type 'moderation' needs model = '<a [[models]] name>'")
        elif model is not None and models and model not in models:
            doc.report(path + ("model",), f"{label}: model '{model}' is not a configured model")
        if name is None or len(doc.problems) != before:
            continue
        values.setdefault("threshold", DEFAULT_THRESHOLDS[kind])
        found.append(GUARDRAIL.build(values, recognizers=recognizers))
    return tuple(found)


def _check_type_rules(
    doc: Doc, path: KeyPath, label: str, kind: str, raw: Table, values: Table
) -> None:
    for key, kinds in _KEYS_BY_TYPE.items():
        if key in raw and kind not in kinds:
            doc.report(path + (key,), f"{label}: '{key}' does not apply to type '{kind}'")
    action = GUARDRAIL.value(values, "action")
    if action == "restore" and (
        kind != "pii" and kind != "regex" or GUARDRAIL.value(values, "applies_to") == "output"
    ):
        doc.report(
            path + ("action",),
            f"{label}: action 'restore' needs type 'pii' or 'regex' and applies_to 'input' or"
            " 'both'",
        )
    if action in ("redact", "mask") and kind in ("toxicity", "moderation", "prompt_injection"):
        doc.report(path + ("action",), f"{label}: type '{kind}' can only 'block' or 'log'")
    engine = GUARDRAIL.value(values, "engine")
    custom = {r.get("entity") for _, r in values.get("recognizers", []) if _is_name(r)}
    for k, entity in enumerate(values.get("entities", ()) if kind == "pii" else ()):
        if entity not in PII_ENTITIES and entity not in custom:
            doc.report(path + ("entities", k), f"{label}: unknown entity '{entity}'")
        elif entity in NER_ENTITIES and engine != "ner":
            doc.report(path + ("entities", k), f"{label}: entity '{entity}' needs engine = 'ner'")


def _recognizers(
    doc: Doc, path: KeyPath, label: str, entries: Entries
) -> tuple[RecognizerConfig, ...]:
    found: list[RecognizerConfig] = []
    for j, raw in entries:
        recognizer_path = path + ("recognizers", j)
        at = f"{label} recognizers[{j}]"
        values = doc.fields(raw, recognizer_path, f"in {at}", RECOGNIZER)
        if not values.get("patterns") and not values.get("deny_list"):
            doc.report(recognizer_path, f"{at}: needs patterns or deny_list")
        _check_patterns(doc, recognizer_path, at, values.get("patterns", ()))
        if "entity" in values:
            found.append(RECOGNIZER.build(values))
    return tuple(found)


def _check_patterns(doc: Doc, path: KeyPath, label: str, patterns: tuple[str, ...]) -> None:
    for k, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            doc.report(
                path + ("patterns", k), f"{label}: patterns[{k}] is not a valid regex: {exc}"
            )


def _is_name(recognizer: Table) -> bool:
    """The recognizer names its entity with a string (else it is reported, not a name)."""
    return isinstance(recognizer.get("entity"), str)
