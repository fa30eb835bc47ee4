"""What the semantic cache did for one request: kept on the request context, read by the
store (its vector joins the index) and by the record (similarity, embedding spend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.cache.semantic_vector import Vector


@dataclass(slots=True)
class SemanticUse:
    """What the semantic cache did for one request (`RequestContext.semantic`)."""

    partition: str
    vector: Vector | None = None  # stored with the answer when it is a miss
    similarity: float | None = None  # of the entry served, on a hit
    embedding_tokens: int = 0
    embedding_cost_usd: float = 0.0

    def add_to(self, record: dict[str, Any]) -> None:
        """Its fields in the request's record (whose `cost_usd` counts the embedding call's
        price already: `gateway.pipeline.finish.request_cost`)."""
        record["cache_embedding_tokens"] = self.embedding_tokens
        record["cache_embedding_cost_usd"] = self.embedding_cost_usd
        if self.similarity is not None:
            record["cache_similarity"] = round(self.similarity, 6)
