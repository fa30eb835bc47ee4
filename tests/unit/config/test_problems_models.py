"""gateway.config.load: problems in [[models]] and their deployments, with exact lines."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.problems import BASE, problems


def test_deployment_ranges(tmp_path: Path) -> None:
    text = (
        BASE
        + "weight = 0\ninput_cost_per_1m = -0.5\ncontext_window = 0\n"
        + "idle_timeout_s = 0\nrpm = nan\n"
    )
    assert problems(tmp_path, text) == [
        # weight 0 is allowed (a canary rolled back), but not on every deployment of a model.
        "config.toml:7: model 'm': at least one deployment needs a weight above 0",
        "config.toml:11: models[0].deployments[0].input_cost_per_1m: must be at least 0, got -0.5",
        "config.toml:12: models[0].deployments[0].context_window: must be greater than 0, got 0",
        "config.toml:13: models[0].deployments[0].idle_timeout_s: must be greater than 0, got 0",
        "config.toml:14: models[0].deployments[0].rpm: expected integer, got float",
    ]


def test_model_problems(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nfallbacks = ["zzz", "m", "n"]\n') + (
        "[[models]]\n"  # 11
        'name = "n"\n'  # 12
        "[[models]]\n"  # 13
        'name = "o"\n'  # 14
        "[[models.deployments]]\n"  # 15
        'provider = "nope"\n'  # 16
        'model = "x"\n'  # 17
        "[[models.deployments]]\n"  # 18
        'model = "y"\n'  # 19
        "[[models]]\n"  # 20
        'name = "m"\n'  # 21
        "deployments = []\n"  # 22
    )
    assert problems(tmp_path, text) == [
        "config.toml:7: model 'm': fallback 'zzz' is not a configured model",
        "config.toml:7: model 'm': a model cannot fall back to itself",
        "config.toml:11: model 'n' has no deployment",
        "config.toml:16: model 'o' deployments[0]: provider 'nope' is not a configured provider",
        "config.toml:18: missing key 'provider' in [[models]] 'o' deployments[1]",
        "config.toml:21: duplicate model name 'm'",
        "config.toml:22: model 'm' has no deployment",
    ]


def test_fallback_on_its_own_line_is_reported_there(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nfallbacks = [\n  "m",\n  "zzz",\n]\n')
    assert problems(tmp_path, text) == [
        "config.toml:8: model 'm': a model cannot fall back to itself",
        "config.toml:9: model 'm': fallback 'zzz' is not a configured model",
    ]


def test_repeated_deployment(tmp_path: Path) -> None:
    text = BASE + '[[models.deployments]]\nprovider = "mock"\nmodel = "mock-small"\n'
    assert problems(tmp_path, text) == [
        "config.toml:10: model 'm' deployments[1]: repeats deployment 'mock/mock-small'"
    ]


def test_reasoning_is_for_deployments_of_openai_format_providers(tmp_path: Path) -> None:
    text = BASE + (
        "[[providers]]\n"  # 10
        'name = "ant"\n'  # 11
        'type = "anthropic"\n'  # 12
        'base_url = "https://api.anthropic.com"\n'  # 13
        "[[models]]\n"  # 14
        'name = "claude"\n'  # 15
        "[[models.deployments]]\n"  # 16
        'provider = "ant"\n'  # 17
        'model = "claude-sonnet-4"\n'  # 18
        "reasoning = true\n"  # 19
    )
    assert problems(tmp_path, text) == [
        "config.toml:19: model 'claude' deployments[0]: reasoning applies to deployments of "
        "openai and azure providers"
    ]
    assert problems(tmp_path, text.replace("reasoning = true", "reasoning = false")) == []


def test_sampling_is_for_deployments_of_anthropic_providers(tmp_path: Path) -> None:
    text = BASE + 'sampling = "none"\n'  # 10
    assert problems(tmp_path, text) == [
        "config.toml:10: model 'm' deployments[0]: sampling applies to deployments of anthropic "
        "providers"
    ]
    assert problems(tmp_path, text.replace('"none"', '"auto"')) == []
    assert problems(tmp_path, text.replace('"none"', '"some"'))[0].startswith("config.toml:10:")
