"""Config problems, each pointing at a file and line.

ConfigError            raised by `load_config`; carries every Problem found
  .problems            tuple[Problem, ...], sorted by file then line
Problem(file, line, message)   str() is `file:line: message`
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """A config (or a policy it names) is invalid. `str()` lists the problems, one per line."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems)  # args stay picklable: ConfigError(problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
