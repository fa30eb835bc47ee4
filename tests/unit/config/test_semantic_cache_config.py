"""gateway.config: a policy's `[cache] mode = "semantic"` and its embedding model."""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_config
from tests.unit.config.problems import BASE, SHA, problems

KEYED = BASE + f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "sem"\n'


def test_a_semantic_policy_is_loaded_with_its_model_and_threshold(tmp_path: Path) -> None:
    sem = '[cache]\nmode = "semantic"\nembedding_model = "m"\nsimilarity = 0.9\n'
    assert problems(tmp_path, KEYED, policies={"sem": sem}) == []
    cache = load_config(tmp_path / "config.toml").policies["sem"].cache
    assert (cache.mode, cache.embedding_model, cache.similarity) == ("semantic", "m", 0.9)


def test_the_threshold_defaults_to_0_95(tmp_path: Path) -> None:
    sem = '[cache]\nmode = "semantic"\nembedding_model = "m"\n'
    problems(tmp_path, KEYED, policies={"sem": sem})
    assert load_config(tmp_path / "config.toml").policies["sem"].cache.similarity == 0.95


def test_semantic_without_an_embedding_model_is_refused(tmp_path: Path) -> None:
    sem = '[cache]\nttl_s = 60\nmode = "semantic"\n'
    assert problems(tmp_path, KEYED, policies={"sem": sem}) == [
        "policies/sem.toml:3: policy 'sem': mode 'semantic' needs "
        "embedding_model = '<a [[models]] name>'"
    ]


def test_an_unknown_embedding_model_is_refused(tmp_path: Path) -> None:
    sem = '[cache]\nmode = "semantic"\nembedding_model = "text-embed"\n'
    assert problems(tmp_path, KEYED, policies={"sem": sem}) == [
        "policies/sem.toml:3: policy 'sem': embedding_model 'text-embed' is not a configured model"
    ]


def test_the_threshold_is_between_0_5_and_1(tmp_path: Path) -> None:
    sem = '[cache]\nmode = "semantic"\nembedding_model = "m"\nsimilarity = 0.2\n'
    assert problems(tmp_path, KEYED, policies={"sem": sem}) == [
        "policies/sem.toml:4: cache.similarity: must be between 0.5 and 1, got 0.2"
    ]


def test_semantic_settings_need_the_semantic_mode(tmp_path: Path) -> None:
    sem = '[cache]\nmode = "exact"\nembedding_model = "m"\nsimilarity = 0.9\n'
    assert problems(tmp_path, KEYED, policies={"sem": sem}) == [
        "policies/sem.toml:3: policy 'sem': 'embedding_model' needs mode = 'semantic'",
        "policies/sem.toml:4: policy 'sem': 'similarity' needs mode = 'semantic'",
    ]
