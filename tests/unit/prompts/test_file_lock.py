"""Two gateway commands rewriting one prompt file at once both keep their change: each reads,
edits and writes the file under its lock; a command that waits too long for it fails clearly."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
import tomllib
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config.prompts import prompt_files
from gateway.prompts import file_lock
from gateway.prompts.promote import Evaluation
from gateway.prompts.promote import promoted as real_promoted

FILE = """\
[[versions]]
version = 1
messages = [{ role = "system", content = "v1" }]

[[versions]]
version = 2
messages = [{ role = "system", content = "v2" }]

[aliases]
production = 1
"""


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    directory = tmp_path / "prompts"
    directory.mkdir()
    (directory / "bot.toml").write_text(FILE)
    return directory


def promote(prompts: Path, alias: str) -> int:
    return main(
        ["prompts", "--dir", str(prompts), "promote", "bot", "2", "--alias", alias, "--force"]
    )


def test_two_promotions_at_once_both_keep_their_alias(
    prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first promotion stops between its read and its write until the second one is done
    # or is waiting for the lock: without the lock, the first's write undid the second's.
    second_waits_or_is_done = threading.Event()
    results: list[int] = []
    threads: list[threading.Thread] = []
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        try:
            real_flock(fd, operation)
        except BlockingIOError:
            second_waits_or_is_done.set()
            raise

    def second() -> None:
        try:
            results.append(promote(prompts, "staging"))
        finally:
            second_waits_or_is_done.set()

    def promoted(text: str, version: int, evaluation: Evaluation) -> str:
        if evaluation.alias == "production":  # the first promotion, between read and write
            threads.append(threading.Thread(target=second, daemon=True))
            threads[0].start()
            assert second_waits_or_is_done.wait(timeout=30)
        return real_promoted(text, version, evaluation)

    monkeypatch.setattr(fcntl, "flock", flock)  # file_lock's
    monkeypatch.setattr("gateway.prompts.commands.promoted", promoted)
    assert promote(prompts, "production") == 0
    threads[0].join(timeout=30)  # it goes on once the first released the lock
    assert results == [0]
    data = tomllib.loads((prompts / "bot.toml").read_text())
    assert data["aliases"] == {"production": 2, "staging": 2}
    assert [e["alias"] for e in data["versions"][1]["evals"]] == ["production", "staging"]


def test_many_promotions_at_once_all_keep_their_alias(prompts: Path) -> None:
    # Threads started together, no hook: each promotion's alias and evaluation survive.
    aliases = [f"a{n}" for n in range(8)]
    start = threading.Barrier(len(aliases))
    results: list[int] = []

    def run(alias: str) -> None:
        start.wait(timeout=30)
        results.append(promote(prompts, alias))

    threads = [threading.Thread(target=run, args=(alias,)) for alias in aliases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [0] * len(aliases)
    data = tomllib.loads((prompts / "bot.toml").read_text())
    assert {alias: data["aliases"][alias] for alias in aliases} == dict.fromkeys(aliases, 2)
    assert len(data["versions"][1]["evals"]) == len(aliases)


def test_a_promotion_waiting_too_long_for_the_lock_fails_and_changes_nothing(
    prompts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(file_lock, "LOCK_TIMEOUT_S", 0.1)
    file = prompts / "bot.toml"
    with file_lock.locked(file):  # another command holds it
        assert promote(prompts, "production") == 2
    err = capsys.readouterr().err
    assert f"error: {file} is being changed by another gateway command" in err
    assert "held for 0.1 s); nothing was changed, try again" in err
    assert file.read_text() == FILE
    assert promote(prompts, "production") == 0  # once it is free


def test_the_lock_file_is_no_prompt_and_keeps_the_prompt_files_permissions(
    prompts: Path,
) -> None:
    file = prompts / "bot.toml"
    file.chmod(0o640)
    old_umask = os.umask(0o077)
    try:
        assert promote(prompts, "production") == 0
    finally:
        os.umask(old_umask)
    lock = prompts / ".bot.toml.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o640
    assert prompt_files(prompts) == [file]
    assert main(["prompts", "--dir", str(prompts), "list"]) == 0
    assert promote(prompts, "staging") == 0  # the lock file left behind is taken again
