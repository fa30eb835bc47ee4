"""The bodies a record keeps (`include_bodies`) and the text a span captures carry no secret:
a configured key, in any encoding, or a credential shape, wherever it sits in the JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from gateway.observability.body_scrub import scrub_bodies, scrub_json
from gateway.observability.recorder import JsonlSink
from gateway.scrub import Secrets
from tests.leaks import recoverable

KEY = "prov/key+9Qx7Lm2Zt4Wv"
SECRETS = Secrets([KEY])
CLIENT_TOKEN = "sk-client-pasted-1234567890"


def _record() -> dict[str, Any]:
    """A record whose bodies quote the key as it is, JSON-escaped inside a string, as a name,
    after a newline, and a `Bearer sk-...` a user pasted."""
    escaped = json.dumps(json.dumps({"authorization": f"Bearer {KEY}"}))  # escaped twice
    return {
        "id": "r1",
        "request": {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": f"use Bearer {CLIENT_TOKEN}"}],
                },
                {"role": "user", "content": f"two lines\n{KEY}"},
            ],
            "metadata": {KEY: "as a name"},
        },
        "response": {"choices": [{"message": {"content": f"echo: {escaped}"}}], "debug": [KEY]},
        "prompt_variables": {"customer": f"key {KEY}"},
    }


def _clean(text: str) -> bool:
    return not recoverable(text, KEY) and CLIENT_TOKEN[3:] not in text


def test_every_body_field_is_scrubbed_at_any_depth() -> None:
    record = _record()
    assert not _clean(json.dumps(record))  # the record does carry them
    scrubbed = scrub_bodies(record, SECRETS)
    text = json.dumps(scrubbed)
    assert _clean(text), text
    assert scrubbed["request"]["messages"][0]["content"][0]["text"] == "use Bearer ****"
    assert scrubbed["request"]["metadata"] == {"****": "as a name"}
    assert scrubbed["prompt_variables"] == {"customer": "key ****"}
    json.loads(scrubbed["response"]["choices"][0]["message"]["content"][len("echo: ") :])


def test_the_bodies_shared_with_the_request_are_left_as_they_are() -> None:
    record = _record()
    before = json.dumps(record)
    scrub_bodies(record, SECRETS)
    assert json.dumps(record) == before  # the request's own body, the cache's, the tracer's


def test_a_key_after_a_json_escape_is_scrubbed_and_the_json_stays_valid() -> None:
    # Scrubbing the serialised JSON would see `\nsk-...` (no word boundary) and cut a key that
    # starts with `n` out of `\n`, leaving `\****`: the strings are scrubbed instead.
    secrets = Secrets(["nKeyStartsWithN42"])
    value = {"a": "x\nnKeyStartsWithN42", "b": "y\nsk-proj-abcdefghij"}
    scrubbed = scrub_json(value, secrets)
    assert scrubbed == {"a": "x\n****", "b": "y\nsk-****"}


def _sink_lines(tmp_path: Path, transform: Any = None, delay: float = 0.0) -> str:
    path = tmp_path / "records.jsonl"
    sink = JsonlSink(path, transform=transform, handoff_delay_s=delay)
    sink.write(_record(), SECRETS)
    sink.write({"id": "no-bodies", "user": "u"})
    sink.close()
    return path.read_text()


def test_the_sink_writes_no_secret_of_the_bodies(tmp_path: Path) -> None:
    text = _sink_lines(tmp_path)
    assert _clean(text), text
    assert sorted(json.loads(line)["id"] for line in text.splitlines()) == ["no-bodies", "r1"]


def test_the_transform_runs_after_the_scrub(tmp_path: Path) -> None:
    seen: list[str] = []

    def transform(record: dict[str, Any]) -> dict[str, Any]:
        seen.append(json.dumps(record))
        return {**record, "transformed": True}

    lines = [json.loads(line) for line in _sink_lines(tmp_path, transform).splitlines()]
    assert all(line["transformed"] for line in lines)
    assert len(seen) == 2 and all(_clean(text) for text in seen)


def test_a_failed_scrub_writes_the_record_without_its_bodies(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    sink = JsonlSink(path, handoff_delay_s=0)
    record = _record()
    nested: list[Any] = []
    for _ in range(5000):  # deeper than the recursion limit
        nested = [nested]
    record["request"] = {"deep": nested, "leak": KEY}
    sink.write(record, SECRETS)
    sink.close()
    (line,) = path.read_text().splitlines()
    assert _clean(line) and json.loads(line)["id"] == "r1" and "request" not in json.loads(line)


def test_scrub_cost_per_megabyte() -> None:
    """Printed, not asserted: the figure docs/request-log.md states."""
    text = "The quick brown fox jumps over the lazy dog. " * 20
    body = {"messages": [{"role": "user", "content": text} for _ in range(1100)]}
    size = len(json.dumps(body))
    many = Secrets([KEY, "another-provider-key-123456", "admin-key-abcdefgh"])
    marked = text.replace("fox", "basic")  # a marker word: the patterns run on each string
    cases = {
        "1 KB strings": body,
        "one string": {"content": text * 1100},
        "1 KB strings, each with a marker word": {"messages": [marked] * 1100},
        "one string with marker words": {"content": marked * 1100},
        "non-ASCII text": {"content": "é" * size},
    }
    for label, value in cases.items():
        started = time.perf_counter()
        scrub_json(value, many)
        elapsed = time.perf_counter() - started
        print(f"\nbody scrub, {label}: {elapsed * 1000 / (size / 1e6):.1f} ms per MB")
