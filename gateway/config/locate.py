"""Line numbers for TOML key paths, so config problems can say `file:line`.

`tomllib` returns plain dicts without positions, so this module re-reads the (already valid)
TOML text with a small scanner. It follows `[table]` and `[[array.of.tables]]` headers (with one
counter per concrete array, so `[[models.deployments]]` restarts at 0 under each `[[models]]`),
`key = value` lines (dotted keys too), and the elements of arrays and inline tables. A path is a
tuple of keys and array indices, as in `("models", 1, "deployments", 0, "provider")`.

It is best effort: `Locator.line` answers the line of the path, else of its nearest recorded
ancestor (a missing key is reported on its table's header), else 1.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class Locator:
    """Maps key paths of one TOML document to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._lines = key_lines(text)

    def line(self, path: Sequence[str | int]) -> int:
        """The line of `path`, else of its nearest recorded ancestor, else 1."""
        key = tuple(path)
        while key:
            found = self._lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return 1


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every key path the scanner can see in `text`, with the line where it first appears."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except _Stop:
        pass  # invalid TOML: keep what was found before the point of confusion
    return scanner.lines


class _Stop(Exception):
    pass


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        # Number of elements seen so far in each array of tables, by its concrete path.
        self.counts: dict[KeyPath, int] = {}

    # -- characters -------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.pos >= len(self.text):
                raise _Stop
            if self.text[self.pos] == "\n":
                self.line += 1
            self.pos += 1

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces and tabs, comments, and (when `newlines`) line breaks."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                while self.pos < len(self.text) and self.text[self.pos] != "\n":
                    self.pos += 1
            else:
                return

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- grammar ----------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.key_value(table)
            self.skip_blank(newlines=False)
            if self.pos < len(self.text) and self.peek() != "\n":
                raise _Stop

    def header(self) -> KeyPath:
        line = self.line
        is_array = self.peek(1) == "["
        self.advance(2 if is_array else 1)
        parts = self.key()
        self.advance(2 if is_array else 1)
        path: KeyPath = ()
        for index, part in enumerate(parts):
            path += (part,)
            last = index == len(parts) - 1
            if last and is_array:
                count = self.counts.get(path, 0)
                self.counts[path] = count + 1
                self.record(path, line)
                path += (count,)
                self.lines[path] = line
            elif path in self.counts:
                # A header below an array of tables means its latest element.
                path += (self.counts[path] - 1,)
            elif last:
                self.lines[path] = line  # the explicit header beats an earlier implicit one
            else:
                self.record(path, line)
        return path

    def key_value(self, table: KeyPath) -> None:
        line = self.line
        path = table
        for part in self.key():
            path += (part,)
            self.record(path, line)
        self.skip_blank(newlines=False)
        if self.peek() != "=":
            raise _Stop
        self.advance()
        self.skip_blank(newlines=False)
        self.value(path)

    def key(self) -> list[str]:
        """A possibly dotted key; leaves the position after its last part."""
        parts = []
        while True:
            self.skip_blank(newlines=False)
            parts.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    def simple_key(self) -> str:
        char = self.peek()
        if char in ('"', "'"):
            start = self.pos
            self.string()
            raw = self.text[start : self.pos]
            try:
                return str(tomllib.loads(f"k = {raw}")["k"])
            except tomllib.TOMLDecodeError:
                return raw[1:-1]
        start = self.pos
        while self.peek() and self.peek() in _BARE_KEY_CHARS:
            self.advance()
        if self.pos == start:
            raise _Stop
        return self.text[start : self.pos]

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        if char in ('"', "'"):
            self.string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            # Numbers, booleans, dates: up to the next delimiter.
            while self.peek() and self.peek() not in ",]}\n#":
                self.advance()

    def array(self, path: KeyPath) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            self.record(path + (index,), self.line)
            self.value(path + (index,))
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()
                index += 1
            elif self.peek() != "]":
                raise _Stop

    def inline_table(self, path: KeyPath) -> None:
        self.advance()  # {
        while True:
            self.skip_blank(newlines=False)
            if self.peek() == "}":
                self.advance()
                return
            self.key_value(path)
            self.skip_blank(newlines=False)
            if self.peek() == ",":
                self.advance()
            elif self.peek() != "}":
                raise _Stop

    def string(self) -> None:
        quote = self.peek()
        if self.text.startswith(quote * 3, self.pos):
            self.advance(3)
            end = self.text.find(quote * 3, self.pos) if quote == "'" else self._basic_end(True)
            if end < 0:
                raise _Stop
            # A closing delimiter may be followed by up to two more quotes that belong to it.
            while self.text.startswith(quote, end + 3):
                end += 1
            self.advance(end + 3 - self.pos)
            return
        self.advance()
        end = self.text.find(quote, self.pos) if quote == "'" else self._basic_end(False)
        if end < 0:
            raise _Stop
        self.advance(end + 1 - self.pos)

    def _basic_end(self, multiline: bool) -> int:
        """Index of the closing `"` (or `\"\"\"`) of a basic string starting at `pos`."""
        index = self.pos
        closing = '"""' if multiline else '"'
        while index < len(self.text):
            if self.text[index] == "\\":
                index += 2
            elif self.text.startswith(closing, index):
                return index
            else:
                index += 1
        return -1
