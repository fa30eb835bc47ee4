"""The ```toml blocks of the docs, and the minimal config each is checked in.

A block is one of:
- a policy file: its first line is `# policies/NAME.toml`, or the line before the block is
  `<!-- toml: policies/NAME.toml -->`; loaded as that policy of a key;
- a prompt file: `# prompts/ID.toml` (or `<!-- toml: prompts/ID.toml -->`); loaded from the
  prompts directory;
- `<!-- toml: invalid -->`: an example of what the gateway refuses; it must be refused;
- anything else: a config, whole or a fragment (a `[state]` table, a `[[models]]` entry). The
  providers, models and policies it names but does not define are added from `BASE_*` below
  and from the docs' own policy examples, and every `*_env` variable it names is set.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import trustme

from gateway.config import check_config
from tests.mock_config import DEMO_KEY_SHA256

REPO = Path(__file__).resolve().parents[3]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

_FENCE = re.compile(r"^```toml\n(.*?)^```", re.M | re.S)
_MARKER = re.compile(r"<!--\s*toml:\s*(.*?)\s*-->")
_HEADER = re.compile(r"#\s*((?:policies|prompts)/[\w.-]+\.toml)\s*$")
_ENV_NAME = re.compile(r'^\s*\w+_env\s*=\s*"(\w+)"', re.M)
# The variables of an inline `headers_env = { "Header" = "NAME", ... }`.
_HEADERS_ENV = re.compile(r"^\s*headers_env\s*=\s*\{(.*)\}", re.M)
_TABLE_VALUE = re.compile(r'=\s*"(\w+)"')
_FILE_KEY = re.compile(r'^\s*(?:ca_file|client_cert)\s*=\s*"([^"]+)"', re.M)

BASE_PROVIDERS = {
    "mock": 'type = "mock"',
    "openai": 'type = "openai"\nbase_url = "https://api.openai.com/v1"\napi_key_env = "OPENAI_KEY"',
    "anthropic": 'type = "anthropic"\nbase_url = "https://api.anthropic.com"',
    "local": 'type = "openai"\nbase_url = "http://localhost:11434/v1"',
}
BASE_MODELS = ("gpt-4o-mini", "claude-3-5-haiku", "gpt-4o", "text-embedding-3-small")


@dataclass(frozen=True)
class Block:
    """One ```toml block: where it starts (the line after the fence) and what it is."""

    file: Path
    line: int
    text: str
    kind: str  # "config", "invalid", "policies/NAME.toml" or "prompts/ID.toml"

    @property
    def where(self) -> str:
        name = self.file.relative_to(REPO) if self.file.is_relative_to(REPO) else self.file
        return f"{name}:{self.line}"


def blocks(paths: tuple[Path, ...] = DOCS) -> list[Block]:
    """Every ```toml block of `paths`, classified."""
    found = []
    for path in paths:
        text = path.read_text()
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            found.append(Block(path, line, match.group(1), _kind(before, match.group(1))))
    return found


def _kind(before: str, body: str) -> str:
    marker = _MARKER.search(before)
    if marker is not None:
        return marker.group(1)
    header = _HEADER.match(body.split("\n", 1)[0])
    return header.group(1) if header is not None else "config"


def problems(block: Block, root: Path, policies: dict[str, str]) -> list[str]:
    """The problems of `block` placed in a minimal config under `root`, lines as in the doc."""
    config = root / "config.toml"
    if block.kind.startswith("policies/"):
        name = block.kind.removeprefix("policies/").removesuffix(".toml")
        text = _with_base("", root, policies) + _key(name)
        (root / block.kind).write_text(block.text)
    elif block.kind.startswith("prompts/"):
        (root / "prompts").mkdir(parents=True)
        (root / block.kind).write_text(block.text)
        text = _with_base("", root, policies)
    else:
        text = _with_base(block.text, root, policies)
    config.write_text(text)
    names = _ENV_NAME.findall(text + "\n".join(policies.values()))
    names += [name for table in _HEADERS_ENV.findall(text) for name in _TABLE_VALUE.findall(table)]
    env = {name: f"value-of-{name}" for name in names}
    return [_in_doc(str(p), block, root) for p in check_config(config, env=env)]


def doc_policies(found: list[Block]) -> dict[str, str]:
    """The policy files the docs show, by name (the last one shown wins)."""
    return {
        b.kind.removeprefix("policies/").removesuffix(".toml"): b.text
        for b in found
        if b.kind.startswith("policies/") and b.kind != "policies/default.toml"
    }


def _with_base(fragment: str, root: Path, policies: dict[str, str]) -> str:
    try:
        data = tomllib.loads(fragment)
    except tomllib.TOMLDecodeError:
        data = {}  # check_config says where
    named_providers = {p.get("name") for p in data.get("providers", [])}
    named_models = {m.get("name") for m in data.get("models", [])}
    parts = [fragment]
    for name, body in BASE_PROVIDERS.items():
        if name not in named_providers:
            parts.append(f'\n[[providers]]\nname = "{name}"\n{body}\n')
    for name in BASE_MODELS:
        if name not in named_models:
            parts.append(
                f'\n[[models]]\nname = "{name}"\n'
                'deployments = [{ provider = "mock", model = "m" }]\n'
            )
    _write_policies(root, {k["policy"] for k in data.get("keys", []) if "policy" in k}, policies)
    _write_tls_files(root, fragment)
    return "".join(parts)


def _write_policies(root: Path, names: set[str], policies: dict[str, str]) -> None:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    for name in names | ({"default"} & set(policies)):
        if name in policies:
            (root / "policies" / f"{name}.toml").write_text(policies[name])


def _write_tls_files(root: Path, fragment: str) -> None:
    """A real PEM at each `ca_file` / `client_cert` a fragment names (they are read at load)."""
    for name in _FILE_KEY.findall(fragment):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        trustme.CA().cert_pem.write_to_path(str(path))


def _key(policy: str) -> str:
    return f'\n[[keys]]\nid = "k"\npolicy = "{policy}"\nkey_sha256 = "{DEMO_KEY_SHA256}"\n'


def _in_doc(problem: str, block: Block, root: Path) -> str:
    """`config.toml:3: x` -> `docs/configuration.md:228: x` when the line is the block's."""
    file, _, rest = problem.partition(":")
    line, _, message = rest.partition(":")
    placed = root / ("config.toml" if block.kind in ("config", "invalid") else block.kind)
    if file == str(placed) and line.isdigit() and int(line) <= block.text.count("\n"):
        return f"{block.where.rsplit(':', 1)[0]}:{block.line + int(line) - 1}:{message}"
    return problem.replace(f"{root}/", "")


_SETTING = re.compile(r"^# ((?:\[\[?[\w.]+\]\]?|\w+ = ).*)$")


def uncommented(text: str) -> str:
    """`text` with every commented-out table header and `key = value` line switched on."""
    lines = []
    for line in text.split("\n"):
        setting = _SETTING.match(line)
        lines.append(
            setting.group(1) if setting is not None and _parses(setting.group(1)) else line
        )
    return "\n".join(lines)


def _parses(line: str) -> bool:
    try:
        tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return False
    return True
