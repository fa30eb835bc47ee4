"""The windows of one streamed answer, by key, and what they released: the part of a stream
guard that knows no wire format (`GuardedConverter` reads the events and picks the keys)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.guardrails.base import Placeholders
from gateway.guardrails.bodies import SEPARATOR, Slot
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.window import Recorder, TextWindow

# A window's key: (choice / block / item index, TEXT, a reasoning text's id or the tool call's
# index). Keys of arguments (a call index, never negative) are the inside of a JSON string.
Key = tuple[int, int]
TEXT = -1


class StreamWindows:
    """A TextWindow per key, made on first use; the answer text (TEXT keys) released so far."""

    def __init__(
        self,
        guards: GuardrailSet,
        placeholders: Placeholders | None,
        record: Recorder,
        keep: bool = False,
    ) -> None:
        self._guards, self._placeholders, self._record = guards, placeholders, record
        self._windows: dict[Key, TextWindow] = {}
        # `keep`: each window keeps what it released before `restore` (`judged_text`).
        self._keep = keep
        self._wholes: list[str] = []  # with `keep`: the texts `whole` scanned, as released
        self.released: list[str] = []

    @property
    def text(self) -> list[str]:
        # What the client was sent (redacted / masked), for the record.
        return self.released

    @text.setter
    def text(self, value: list[str]) -> None:
        self.released = value

    def full_text(self) -> str:
        return "".join(self.released)

    def judged_text(self) -> str:
        """With `keep`, every text of the answer (answer, refusal, reasoning, tool-call
        arguments) as the guardrails released it, before `restore` put values back, each on its
        own between SEPARATORs: what a moderation model may read (as on the JSON path)."""
        texts = ["".join(w.kept) for w in self._windows.values() if w.kept]
        return SEPARATOR.join(texts + list(dict.fromkeys(self._wholes)))

    def whole(self, slots: Iterable[Slot]) -> bool:
        """Texts an event carries whole (a tool call's opening `input`, a citation's title,
        URL or cited text), each scanned on its own and rewritten in place, `restore` values put
        back; True when one changed."""
        changed = False
        for container, key in slots:
            text = container[key]
            window = TextWindow(self._guards, self._placeholders, self._record, keep=self._keep)
            container[key] = window.push(text) + window.flush()
            if window.kept:
                self._wholes.append("".join(window.kept))
            changed = changed or container[key] != text
        return changed

    def _window(self, key: Key) -> TextWindow:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = TextWindow(
                # Arguments are the inside of a JSON string; answer, refusal and reasoning
                # texts are plain text.
                self._guards,
                self._placeholders,
                self._record,
                json_string=key[1] >= 0,
                keep=self._keep,
            )
        return window

    def _push(self, key: Key, delta: str) -> str:
        released = self._window(key).push(delta)
        if key[1] == TEXT:
            self._note(released)
        return released

    def _flush_one(self, key: Key) -> str:
        window = self._windows.get(key)
        if window is None:
            return ""
        text = window.flush()
        if key[1] == TEXT:
            self._note(text)
        return text

    def _note(self, text: str) -> None:
        if text:
            self.released.append(text)
