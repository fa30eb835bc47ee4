"""The mock provider's embeddings: deterministic unit vectors, base64 and token inputs, and
the trigram model that puts texts worded alike close together."""

from __future__ import annotations

import base64
import struct

import pytest

from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.embeddings import embeddings_response


def test_embeddings_are_deterministic_unit_vectors() -> None:
    response = embeddings_response({"model": "mock-embed", "input": ["hello", "world"]})
    vectors = [d["embedding"] for d in response["data"]]
    assert [d["index"] for d in response["data"]] == [0, 1] and response["object"] == "list"
    assert all(len(v) == 8 and abs(sum(x * x for x in v) - 1) < 1e-5 for v in vectors)
    assert vectors[0] != vectors[1]
    again = embeddings_response({"model": "mock-embed", "input": "hello"})
    assert again["data"][0]["embedding"] == vectors[0]
    assert response["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert (
        len(
            embeddings_response({"model": "m", "input": "x", "dimensions": 32})["data"][0][
                "embedding"
            ]
        )
        == 32
    )


def test_embeddings_base64_and_token_inputs() -> None:
    floats = embeddings_response({"model": "m", "input": "hello"})["data"][0]["embedding"]
    encoded = embeddings_response({"model": "m", "input": "hello", "encoding_format": "base64"})[
        "data"
    ][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == floats
    tokens_response = embeddings_response({"model": "m", "input": [[1, 2, 3], [4]]})
    assert len(tokens_response["data"]) == 2 and tokens_response["usage"]["prompt_tokens"] == 4
    assert embeddings_response({"model": "m", "input": [5, 6]})["usage"]["prompt_tokens"] == 2
    for bad in (
        {"model": "m", "input": []},
        {"model": "m", "input": 5},
        {"model": "m", "input": "x", "dimensions": 0},
    ):
        with pytest.raises(RequestError):
            embeddings_response(bad)


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_trigram_embeddings_put_near_identical_texts_close() -> None:
    texts = [
        "What is the capital of France?",
        "what is the capital of france",
        "What is the capital city of France?",
        "How do I bake sourdough bread at home?",
    ]
    response = embeddings_response({"model": "trigram-embed", "input": texts})
    same, case, near, other = [d["embedding"] for d in response["data"]]
    assert len(same) == 256
    assert _cosine(same, case) > 0.999
    assert 0.8 < _cosine(same, near) < 0.999
    assert _cosine(same, other) < 0.5


def test_other_embedding_models_hash_the_whole_text() -> None:
    response = embeddings_response({"model": "mock-embed", "input": ["Hello.", "hello"]})
    first, second = [d["embedding"] for d in response["data"]]
    assert len(first) == 8 and first != second
