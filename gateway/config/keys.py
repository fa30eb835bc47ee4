"""`[[keys]]`: the cross-field rules of gateway keys, and how a secret becomes `key_sha256`.

Secret values (the environment variable's value, a raw key pasted as `key_sha256`) never appear
in a message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from gateway.config.document import Doc, Entries, Table, entry_name
from gateway.config.locate import KeyPath
from gateway.config.specs import spec_of
from gateway.config.types import KeyConfig

KEY = spec_of(KeyConfig)
POLICY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
PLAINTEXT_KEY = (
    "a plaintext `key` is never stored: put its sha256 in key_sha256 (`gateway keys hash "
    "SECRET` prints it), or name an environment variable holding it with key_env"
)


def hash_key(secret: str) -> str:
    """The hex sha256 of a gateway key, as `[[keys]] key_sha256` stores it; raises ValueError
    for a secret no client could present (`secret_problem`)."""
    problem = secret_problem(secret)
    if problem is not None:
        raise ValueError(problem)
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_problem(secret: str) -> str | None:
    """Why `secret` cannot be a gateway key, or None. Text from argv or the environment holds
    bytes that are not UTF-8 as lone surrogates, which have no UTF-8 form to hash."""
    if not secret:
        return "is empty"
    try:
        secret.encode()
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if secret != secret.strip():
        # HTTP drops a header value's outer whitespace: the key could never match. Most often
        # the newline at the end of the file the variable was filled from.
        return "has leading or trailing whitespace (a newline?), which no header can carry"
    if not (secret.isascii() and secret.isprintable()):
        # Clients send header values as ASCII (httpx, under the OpenAI and Anthropic SDKs,
        # refuses anything else), and the gateway reads them as Latin-1: such a key could never
        # match. Control characters (a tab, NUL) are refused by the HTTP parser itself.
        return "holds characters other than printable ASCII, which no header can carry"
    return None


def admin_key_problem(secret: str, found: Iterable[KeyConfig | None]) -> str | None:
    """Why `secret` cannot be the admin key, or None: one no client could present, or a
    gateway key's secret (every holder of that key, a browser app's users too, would be an
    admin)."""
    problem = secret_problem(secret)
    if problem is not None:
        return problem
    digest = hash_key(secret)
    for key in found:
        if key is None:
            continue
        if hmac.compare_digest(key.key_sha256, digest) or (
            key.previous_key_sha256 is not None
            and hmac.compare_digest(key.previous_key_sha256, digest)
        ):
            return f"is the secret of gateway key '{key.id}': the admin key must be its own"
    return None


def keys(
    doc: Doc, entries: Entries, env: Mapping[str, str], models: Mapping[str, object]
) -> list[tuple[int, KeyConfig | None]]:
    """(index in [[keys]], key or None when it has problems), in file order."""
    found: list[tuple[int, KeyConfig | None]] = []
    ids: set[str] = set()
    owners: dict[str, str] = {}  # sha256 -> key id
    for i, raw in entries:
        path: KeyPath = ("keys", i)
        before = len(doc.problems)
        pasted = "key" in raw
        if pasted:  # the secret itself: reported below, as what to do instead
            raw = {name: value for name, value in raw.items() if name != "key"}
        values = doc.fields(raw, path, f"in {entry_name('keys', i, raw.get('id'))}", KEY)
        key_id = values.get("id")
        label = f"key '{key_id}'" if key_id else entry_name("keys", i, None)
        if key_id in ids:
            doc.report(path + ("id",), f"duplicate key id '{key_id}'")
        elif key_id:
            ids.add(key_id)
        if pasted:
            doc.report(path + ("key",), f"{label}: {PLAINTEXT_KEY}")
        stored = "key_sha256" in raw or "key_env" in raw
        digest = _digest(doc, raw, values, path, label, env) if stored or not pasted else None
        if digest is not None:
            if digest in owners:
                doc.report(
                    path + ("key_sha256" if "key_sha256" in raw else "key_env",),
                    f"{label}: same secret as key '{owners[digest]}'",
                )
            else:
                owners[digest] = key_id or label
        previous = _previous_digest(doc, values, path, label, digest, owners)
        _check_policy_and_models(doc, path, label, values, models)
        ok = key_id is not None and digest is not None and len(doc.problems) == before
        built = KEY.build(values, key_sha256=digest, previous_key_sha256=previous) if ok else None
        found.append((i, built))
    return found


def _previous_digest(
    doc: Doc, values: Table, path: KeyPath, label: str, digest: str | None, owners: dict[str, str]
) -> str | None:
    """`previous_key_sha256` (lower case), checked like `key_sha256` and against every other
    secret (it is one of this key's, so no other key may have it); None when unset."""
    previous = values.get("previous_key_sha256")
    if not isinstance(previous, str):  # unset (a wrong type is reported by `fields`)
        return None
    where = path + ("previous_key_sha256",)
    if not _SHA256.fullmatch(previous):  # never shown: a raw secret pasted here must not leak
        doc.report(
            where,
            f"{label}: previous_key_sha256 must be 64 hex characters (the sha256 of the "
            "secret being rotated out: `gateway keys hash SECRET`)",
        )
        return None
    previous = previous.lower()
    if previous == digest:
        doc.report(where, f"{label}: previous_key_sha256 is the key's own secret")
    elif previous in owners:
        doc.report(where, f"{label}: previous_key_sha256 is the secret of key '{owners[previous]}'")
    else:
        owners[previous] = str(values.get("id") or label)
    return previous


def _check_policy_and_models(
    doc: Doc, path: KeyPath, label: str, values: Table, models: Mapping[str, object]
) -> None:
    policy = values.get("policy", KEY.default("policy"))
    if not POLICY_NAME.fullmatch(policy):
        doc.report(
            path + ("policy",),
            f"{label}: policy name '{policy}' may only use letters, digits, '.', '-' and '_'",
        )
    allowed = values.get("models")
    if allowed == ():
        doc.report(path + ("models",), f"{label}: models is empty (omit it to allow every model)")
    for k, model in enumerate(allowed or ()):
        if model not in models:
            doc.report(path + ("models", k), f"{label}: model '{model}' is not a configured model")


def _digest(
    doc: Doc, raw: Table, values: Table, path: KeyPath, label: str, env: Mapping[str, str]
) -> str | None:
    """The key's sha256 from `key_sha256` or from the variable `key_env` names; None if neither."""
    if "key_sha256" in raw and "key_env" in raw:
        doc.report(path + ("key_env",), f"{label}: set either key_sha256 or key_env, not both")
        return None
    if "key_sha256" not in raw and "key_env" not in raw:
        doc.report(path, f"{label}: one of key_sha256 or key_env is required")
        return None
    if "key_sha256" in values:
        # The value is never shown: a raw secret pasted here by mistake must not reach a log.
        if not _SHA256.fullmatch(values["key_sha256"]):
            doc.report(
                path + ("key_sha256",),
                f"{label}: key_sha256 must be 64 hex characters (see `gateway keys hash SECRET`)",
            )
            return None
        return str(values["key_sha256"]).lower()
    name = values.get("key_env")
    if name is None or not doc.require_env(path + ("key_env",), label, name, env):
        return None
    problem = secret_problem(env[name])
    if problem is not None:
        doc.report(path + ("key_env",), f"{label}: environment variable {name} {problem}")
        return None
    return hash_key(env[name])
