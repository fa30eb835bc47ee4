"""A secret rotated in its file (`<NAME>_FILE`) applies at the next reload although no config
file changed: the reload compares the secrets the config reads, not only the files' version."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.pipeline.services import Services
from gateway.reload import Reloader
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = (
    MOCK_MODEL
    + '\n[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "http://upstream.invalid/v1"\n'
    'api_key_env = "RELOAD_SECRET_OPENAI_KEY"\n' + key_table("k")
)


def secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, text: str) -> Path:
    """A secret in `secrets/<variable>`, given as `<variable>_FILE` (the variable itself unset)."""
    secret = tmp_path / "secrets" / variable
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(text)
    monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(f"{variable}_FILE", str(secret))
    return secret


async def test_a_provider_key_rotated_in_its_file_applies_at_the_next_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secret_file(tmp_path, monkeypatch, "RELOAD_SECRET_OPENAI_KEY", "sk-first-0123456789\n")
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    app = create_app(load_config(path), watch_config=False)
    services: Services = app.state.services
    reloader = Reloader(services, path)
    try:
        assert services.runtime.provider_keys["oai"].reveal() == "sk-first-0123456789"
        assert (await reloader.reload("SIGHUP"))["result"] == "unchanged"
        version = services.runtime.config.version
        secret.write_text("sk-second-0123456789\n")
        result = await reloader.reload("SIGHUP")
        assert result["result"] == "ok" and result["version"] == version
        assert services.runtime.provider_keys["oai"].reveal() == "sk-second-0123456789"
        # The answers are scrubbed of the key sent upstream now.
        assert "sk-second" not in services.runtime.secrets.scrub("echo sk-second-0123456789")
        assert (await reloader.reload("SIGHUP"))["result"] == "unchanged"
        # A file that cannot be read is refused like any bad edit: the key in use stays.
        secret.unlink()
        refused = await reloader.reload("SIGHUP")
        assert refused["result"] == "error"
        assert "RELOAD_SECRET_OPENAI_KEY_FILE names a file that cannot be read" in str(refused)
        assert services.runtime.provider_keys["oai"].reveal() == "sk-second-0123456789"
    finally:
        await services.aclose()


async def test_a_secret_header_rotated_in_its_file_applies_at_the_next_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`headers_env` (an API gateway's subscription key) is a secret like the provider key."""
    secret = secret_file(tmp_path, monkeypatch, "RELOAD_SECRET_APIM_KEY", "apim-first-0123456789\n")
    monkeypatch.setenv("RELOAD_SECRET_OPENAI_KEY", "sk-in-the-environment-0123")
    path = tmp_path / "config.toml"
    path.write_text(
        CONFIG.replace(
            'api_key_env = "RELOAD_SECRET_OPENAI_KEY"\n',
            'api_key_env = "RELOAD_SECRET_OPENAI_KEY"\n'
            'headers = { "OpenAI-Project" = "proj_1" }\n'
            'headers_env = { "Ocp-Apim-Subscription-Key" = "RELOAD_SECRET_APIM_KEY" }\n',
        )
    )
    app = create_app(load_config(path), watch_config=False)
    services: Services = app.state.services
    reloader = Reloader(services, path)
    try:
        sent = {"openai-project": "proj_1", "ocp-apim-subscription-key": "apim-first-0123456789"}
        assert services.runtime.provider_headers["oai"] == sent
        assert "apim-first" not in services.runtime.secrets.scrub("apim-first-0123456789")
        secret.write_text("apim-second-0123456789\n")
        assert (await reloader.reload("SIGHUP"))["result"] == "ok"
        sent["ocp-apim-subscription-key"] = "apim-second-0123456789"
        assert services.runtime.provider_headers["oai"] == sent
        assert "apim-second" not in services.runtime.secrets.scrub("apim-second-0123456789")
    finally:
        await services.aclose()


def test_the_watcher_watches_the_directory_a_secret_file_is_named_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kubernetes secret volume: the file is a symlink through `..data`, whose swap is the
    update; the directory as named is watched, and the file and `..data` are relevant."""
    mounted = tmp_path / "mounted"
    (mounted / "..2026_12_07_01").mkdir(parents=True)
    (mounted / "..2026_12_07_01" / "openai").write_text("sk-mounted-0123456789\n")
    (mounted / "..data").symlink_to("..2026_12_07_01")
    (mounted / "openai").symlink_to("..data/openai")
    monkeypatch.delenv("RELOAD_SECRET_OPENAI_KEY", raising=False)
    monkeypatch.setenv("RELOAD_SECRET_OPENAI_KEY_FILE", str(mounted / "openai"))
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    app = create_app(load_config(path), watch_config=False)
    reloader = Reloader(app.state.services, path)
    assert mounted in reloader.watched_paths()
    assert reloader._relevant(None, str(mounted / "openai"))
    assert reloader._relevant(None, str(mounted / "..data"))
    assert not reloader._relevant(None, str(mounted / "other-secret"))
