"""`gateway prompts list | show ID | diff ID A B | promote ID VERSION --alias A --report R`.

The prompts directory is `--dir`, else the `prompts_dir` of `--config` (default
$GATEWAY_CONFIG or config.example.toml), relative to that config's directory. These commands
read only the prompt files, so they work without the config's secrets. Exit codes: 0 done;
1 promotion refused because the report's gate did not pass; 2 usage error, or the prompt file
still being changed by another gateway command after `file_lock.LOCK_TIMEOUT_S`. A promotion,
done or refused, leaves one line in the audit trail (`--audit`, else the config's `[logging]
audit_path`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.config.document import parse
from gateway.config.errors import Problem
from gateway.config.files import read_config_file
from gateway.config.prompt_types import Prompt
from gateway.config.prompts import load_prompts, parse_prompt
from gateway.config.types import LoggingConfig
from gateway.observability.audit import AuditLog, file_hash
from gateway.observability.log_reader import UsageError
from gateway.prompts import view
from gateway.prompts.file_lock import LockError, locked
from gateway.prompts.promote import (
    Evaluation,
    PromotionError,
    current_version,
    gate_of,
    promoted,
    scores_of,
    write_checked,
)

CONFIG_ENV = "GATEWAY_CONFIG"
DEFAULT_CONFIG = "config.example.toml"


def prompts_dir(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir)
    config, data = _config(args)
    return config.parent / str(data.get("prompts_dir", "prompts"))


def audit_log(args: argparse.Namespace) -> AuditLog:
    """`--audit`, else the config's `[logging] audit_path` rotated as its `audit_max_bytes`
    and `audit_backups` say, else `logs/audit.jsonl` beside the prompts directory (what a
    config in that directory would use by default). Without a config this process never
    rotates the trail (it cannot know how the gateway's is kept): the gateway does at its next
    line."""
    if args.audit:
        return AuditLog(Path(args.audit))
    if args.dir:
        return AuditLog(Path(args.dir).resolve().parent / "logs" / "audit.jsonl")
    config, data = _config(args)
    logging = data.get("logging", {})
    settings = logging if isinstance(logging, dict) else {}
    defaults = LoggingConfig()
    path = settings.get("audit_path") or defaults.audit_path
    return AuditLog(
        config.parent / str(path),
        _whole(settings.get("audit_max_bytes"), defaults.audit_max_bytes),
        _whole(settings.get("audit_backups"), defaults.audit_backups),
    )


def _whole(value: object, default: int) -> int:
    """A setting of the config as read unvalidated: `default` unless a whole number >= 0."""
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def _config(args: argparse.Namespace) -> tuple[Path, dict[str, object]]:
    config = Path(args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        content = read_config_file(config)
    except OSError as exc:
        raise UsageError(f"cannot read {config}: {exc} (pass --dir or --config)") from None
    problems: list[Problem] = []
    parsed = parse(str(config), content, problems)
    if parsed is None:
        raise UsageError(f"{problems[0]} (pass --dir or --config)")
    return config, parsed[0]


def registry(directory: Path) -> dict[str, Prompt]:
    problems: list[Problem] = []
    prompts, _ = load_prompts(directory, problems, {})
    if problems:
        raise UsageError("\n".join(str(p) for p in problems))
    return prompts


def run(args: argparse.Namespace) -> int:
    try:
        directory = prompts_dir(args)
        prompts = registry(directory)
        command = args.prompts_command
        if command == "list":
            for prompt_id in sorted(prompts):
                row = view.summary(prompts[prompt_id])
                print(f"{prompt_id}  versions {row['versions']}  aliases {row['aliases']}")
            return 0
        prompt = _prompt(prompts, args.id)
        if command == "show":
            print(json.dumps(view.detail(prompt), indent=2))
            return 0
        if command == "diff":
            for number in (args.a, args.b):
                _version(prompt, number)
            print(view.diff(prompt, args.a, args.b), end="")
            return 0
        return promote(prompt, args)
    except (UsageError, PromotionError, LockError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def promote(prompt: Prompt, args: argparse.Namespace) -> int:
    """Promote under the prompt file's lock, from the file as it is once the lock is held: a
    command that rewrote it meanwhile (another promotion) is not undone."""
    with locked(prompt.file):
        text = _reread(prompt.file)
        return _promote(_parsed(prompt.file, text), text, args)


def _promote(prompt: Prompt, text: str, args: argparse.Namespace) -> int:
    _version(prompt, args.version)
    previous = current_version(text, args.alias)
    gate, passed, scores, report = None, False, {}, ""
    audit = audit_log(args)
    who = f"cli:{getpass.getuser()}"
    # What every line this promotion writes to the trail says it is about.
    subject = {
        "target": prompt.id,
        "version": args.version,
        "alias": args.alias,
        "previous": previous,
    }
    if args.report:
        data = read_report(Path(args.report))
        if not isinstance(data, dict):
            raise UsageError(f"the report {args.report} is not a replay report (a JSON object)")
        try:
            gate, passed = gate_of(
                data, prompt.id, args.version, prompt.versions[args.version].hash
            )
        except PromotionError as exc:  # a refusal too: the trail says why
            audit.write(
                who,
                "prompt_promote",
                result="refused",
                **subject,
                report=str(args.report),
                problem=str(exc),
            )
            raise
        scores, report = scores_of(data), str(args.report)
    elif not args.force:
        raise UsageError("promote needs --report (a `gateway replay --prompt` report) or --force")
    details = {
        **subject,
        "report": report or None,
        "gate": gate,
        "passed": passed,
    }
    if not passed and not args.force:
        why = "has no gate" if gate is None else f"gate failed: {gate}"
        print(f"refused: the report {why} (pass --force to promote anyway)", file=sys.stderr)
        audit.write(who, "prompt_promote", result="refused", **details)
        return 1
    evaluation = Evaluation(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        report=report,
        alias=args.alias,
        previous=previous,
        gate=gate,
        passed=passed,
        forced=args.force and not passed,
        rollback=previous is not None and args.version < previous,
        scores=scores,
    )
    after = promoted(text, args.version, evaluation)
    write_checked(prompt.file, after)
    audit.write(
        who,
        "prompt_promote",
        result="ok",
        forced=evaluation.forced,
        rollback=evaluation.rollback,
        file=str(prompt.file),
        before=file_hash(text.encode()),
        after=file_hash(after.encode()),
        **details,
    )
    how = " (forced)" if evaluation.forced else ""
    print(f"{prompt.id}: alias {args.alias} {previous} -> {args.version}{how}")
    return 0


# A replay report is JSON of a few KB per request; more is no report (`--report /dev/zero`).
MAX_REPORT_BYTES = 64 * 1024 * 1024


def read_report(path: Path) -> object:
    """The JSON in the replay report at `path`: a regular file of at most `MAX_REPORT_BYTES`
    (a FIFO would block the read, a device never end it), else UsageError."""
    try:
        return json.loads(_report_bytes(path))
    except UsageError:
        raise
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the report {path}: {exc}") from None


def _report_bytes(path: Path) -> bytes:
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise UsageError(f"the report {path} is not a regular file")
    # O_NONBLOCK: a FIFO put there since the stat does not block the open (fstat refuses it).
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UsageError(f"the report {path} is not a regular file")
        content = handle.read(MAX_REPORT_BYTES + 1)
    if len(content) > MAX_REPORT_BYTES:
        raise UsageError(f"the report {path} is larger than {MAX_REPORT_BYTES:,} bytes")
    return content


def _reread(file: Path) -> str:
    try:
        return read_config_file(file).decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None


def _parsed(file: Path, text: str) -> Prompt:
    problems: list[Problem] = []
    prompt = parse_prompt(file, text.encode(), problems, {})
    if prompt is None:
        raise UsageError("\n".join(str(p) for p in problems) or f"{file} does not load")
    return prompt


def _prompt(prompts: dict[str, Prompt], prompt_id: str) -> Prompt:
    if prompt_id not in prompts:
        raise UsageError(f"no prompt '{prompt_id}' (known: {', '.join(sorted(prompts)) or '-'})")
    return prompts[prompt_id]


def _version(prompt: Prompt, number: int) -> None:
    if number not in prompt.versions:
        raise UsageError(f"prompt '{prompt.id}' has no version {number}")
