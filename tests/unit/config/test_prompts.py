"""Prompt files: versions, aliases, canaries, and the refusal of an edit to a used version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.config import load as config_load
from gateway.config import load_config
from gateway.config.errors import ConfigError, Problem
from gateway.config.prompt_types import Prompt
from gateway.config.prompts import load_prompts
from gateway.config.used_versions import used_versions

SUPPORT = """\
# the support bot
[[versions]]
version = 1
messages = [{ role = "system", content = "You answer questions about {{product}}." }]
params = { temperature = 0.2 }

[[versions]]
version = 2
messages = [
  { role = "system", content = "You are {{product}}'s support. Be brief." },
  { role = "user", content = "My plan: {{plan}}" },
]

[aliases]
production = 1
canary = { version = 2, weight = 0.1 }
"""


def load(
    tmp_path: Path, text: str, used: dict[tuple[str, int], str] | None = None
) -> tuple[dict[str, Prompt], list[Problem]]:
    (tmp_path / "support-bot.toml").write_text(text)
    problems: list[Problem] = []
    prompts, _ = load_prompts(tmp_path, problems, used or {})
    return dict(prompts), problems


def test_versions_aliases_and_variables(tmp_path: Path) -> None:
    (tmp_path / "support-bot.toml").write_text(SUPPORT)
    problems: list[Problem] = []
    prompts, files = load_prompts(tmp_path, problems, {})
    assert problems == []
    prompt = prompts["support-bot"]
    assert sorted(prompt.versions) == [1, 2]
    assert prompt.versions[1].variables == ("product",)
    assert prompt.versions[2].variables == ("product", "plan")
    assert dict(prompt.versions[1].params) == {"temperature": 0.2}
    assert prompt.aliases["production"].version == 1
    assert [(a.name, a.version, a.weight) for a in prompt.canaries()] == [("canary", 2, 0.1)]
    assert prompt.versions[1].hash != prompt.versions[2].hash
    assert files["support-bot"] == SUPPORT.encode()


def test_files_editors_leave_beside_a_prompt_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "support-bot.toml").write_text(SUPPORT)
    (tmp_path / ".#support-bot.toml").symlink_to("ops@host.4242:1733460000")  # Emacs's lock
    (tmp_path / "._support-bot.toml").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    problems: list[Problem] = []
    prompts, files = load_prompts(tmp_path, problems, {})
    assert problems == []
    assert sorted(prompts) == sorted(files) == ["support-bot"]


def test_missing_dir_is_an_empty_registry(tmp_path: Path) -> None:
    problems: list[Problem] = []
    assert load_prompts(tmp_path / "absent", problems, {}) == ({}, {})
    assert problems == []


def test_a_file_where_the_directory_should_be_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "prompts").write_text("support-bot = 1\n")
    problems: list[Problem] = []
    assert load_prompts(tmp_path / "prompts", problems, {}) == ({}, {})
    assert [(p.file, p.line, p.message) for p in problems] == [
        (str(tmp_path / "prompts"), 1, "prompts_dir is not a directory")
    ]


@pytest.mark.parametrize(
    ("edit", "lines", "words"),
    [
        (("production = 1", "production = 7"), [15], "no version 7"),
        (("weight = 0.1", "weight = 1.5"), [16], "number from 0 to 1"),
        (('role = "user"', 'role = "robot"'), [11], "versions[1].messages[1]"),
        # The canary's version 2 is gone too.
        (("version = 2\n", "version = 1\n"), [8, 16], "defined twice"),
        (("params = {", "parms = {"), [5], "unknown key 'parms'"),
        # Values of any TOML type where a number goes: a problem, never an exception.
        (("production = 1", "production = []"), [15], "no version []"),
        (("production = 1", "production = { version = {} }"), [15], "number from 0 to 1"),
        (("version = 2\n", "version = [2]\n"), [8, 16], "expected a positive integer"),
        (("version = 2\n", "version = { n = 2 }\n"), [8, 16], "expected a positive integer"),
        # A version's params go into request bodies: JSON values only.
        (("temperature = 0.2", "temperature = inf"), [5], "params.temperature: inf and nan"),
        (("temperature = 0.2", "seed = 99999999999999999999"), [5], "beyond 64 bits"),
        (("temperature = 0.2", "stop = [2024-05-01]"), [5], "date/time is not a JSON value"),
        # Nor what the request owns: `stream` made every JSON request a stream (502).
        (("temperature = 0.2", "stream = true"), [5], "params.stream: 'stream' is the request's"),
        (("temperature = 0.2", "stream_options = {}"), [5], "'stream_options' is the request's"),
        (("temperature = 0.2", "messages = []"), [5], "'messages' is the request's own"),
        (("temperature = 0.2", "prompt = 'x'"), [5], "'prompt' is the request's own"),
    ],
)
def test_problems_name_file_and_line(
    tmp_path: Path, edit: tuple[str, str], lines: list[int], words: str
) -> None:
    prompts, problems = load(tmp_path, SUPPORT.replace(*edit, 1))
    assert prompts == {}
    assert [(Path(p.file).name, p.line) for p in problems] == [
        ("support-bot.toml", line) for line in lines
    ]
    assert words in problems[0].message


def test_an_edit_to_a_used_version_is_refused(tmp_path: Path) -> None:
    prompts, _ = load(tmp_path, SUPPORT)
    original = prompts["support-bot"].versions[1].hash
    edited = SUPPORT.replace("You answer questions", "You answer all questions")
    _, problems = load(tmp_path, edited, {("support-bot", 1): original})
    assert len(problems) == 1 and problems[0].line == 4
    assert "version 1 was used by requests" in problems[0].message
    assert "add a new version" in problems[0].message
    # An unused version may still change, and comments and evals are not content.
    untouched = SUPPORT.replace("Be brief.", "Be very brief.").replace("# the", "# our")
    _, problems = load(tmp_path, untouched, {("support-bot", 1): original})
    assert problems == []


def test_a_config_load_reads_the_request_log_only_when_there_are_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is read whole (rotated files too) for the immutability check: a config without
    prompts has nothing to check, and its starts and reloads do not pay for the read."""
    config = tmp_path / "config.toml"
    config.write_text("")
    log = tmp_path / "logs" / "requests.jsonl"
    log.parent.mkdir()
    used = {"prompt_id": "support-bot", "prompt_version": 1, "prompt_hash": "0" * 64}
    log.write_text(json.dumps(used, separators=(",", ":")) + "\n")
    read: list[Path] = []

    def reading(path: Path, backups: int) -> dict[tuple[str, int], str]:
        read.append(path)
        return used_versions(path, backups)

    monkeypatch.setattr(config_load, "used_versions", reading)
    load_config(config)
    assert read == []
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support-bot.toml").write_text(SUPPORT)
    with pytest.raises(ConfigError, match="version 1 was used by requests"):
        load_config(config)
    assert read == [log]
