"""`POST /v1/embeddings`: deterministic unit vectors derived from the model and each input.

A model whose name holds `trigram` embeds a text as a normalised bag of hashed character
trigrams of its lowercased words (punctuation dropped), so near-identical texts get close
vectors (what the semantic cache's tests need); any other model, a hash of the whole input."""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import struct
from typing import Any

from gateway import tokens
from gateway.mock_provider.behaviour import RequestError

DEFAULT_DIMENSIONS = 8
# A trigram model's default: enough buckets that unrelated sentences stay far apart.
TRIGRAM_DIMENSIONS = 256
MAX_DIMENSIONS = 4096


@functools.lru_cache(maxsize=4096)
def embedding_vector(model: str, item: str | tuple[int, ...], dimensions: int) -> tuple[float, ...]:
    """A unit-length vector, float32 precision, the same for the same (model, input, dimensions)."""
    key = f"{model}\x00{item}".encode()
    raw = hashlib.shake_128(key).digest(4 * dimensions)
    values = [v / 2147483648.0 - 1.0 for v in struct.unpack(f"<{dimensions}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    # Round trip through float32 so the float and base64 encodings carry the same numbers.
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return struct.unpack(f"<{dimensions}f", packed)


@functools.lru_cache(maxsize=4096)
def trigram_vector(text: str, dimensions: int) -> tuple[float, ...]:
    """A unit-length vector, float32 precision: the hashed character trigrams of `text`'s
    lowercased words (punctuation and spacing ignored), counted and normalised."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    counts = [0.0] * dimensions
    for word in words:
        padded = f" {word} "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest()
            counts[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in counts)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in counts))
    return struct.unpack(f"<{dimensions}f", packed)


def _vector(model: str, item: str | tuple[int, ...], dimensions: int) -> tuple[float, ...]:
    if "trigram" in model and isinstance(item, str):
        return trigram_vector(item, dimensions)
    return embedding_vector(model, item, dimensions)


def _inputs(value: Any) -> list[str | tuple[int, ...]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [tuple(value)]
        if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
            return [tuple(v) for v in value]
    raise RequestError("input must be a string, a list of strings, or token arrays", "input")


def embeddings_response(body: Any) -> dict[str, Any]:
    """The OpenAI `list` of `embedding` objects, with usage."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model is required", "model")
    items = _inputs(body.get("input"))
    default = TRIGRAM_DIMENSIONS if "trigram" in model else DEFAULT_DIMENSIONS
    dimensions = body.get("dimensions", default)
    if (
        not isinstance(dimensions, int)
        or isinstance(dimensions, bool)
        or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        raise RequestError(
            f"dimensions must be an integer from 1 to {MAX_DIMENSIONS}", "dimensions"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise RequestError("encoding_format must be 'float' or 'base64'", "encoding_format")
    data = []
    for index, item in enumerate(items):
        vector = _vector(model, item, dimensions)
        embedding: Any = list(vector)
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    used = sum(len(item) if isinstance(item, tuple) else tokens.count_text(item) for item in items)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
