import dataclasses
import hashlib
from pathlib import Path
from types import MappingProxyType

from gateway.config.provider_types import ProviderConfig
from gateway.config.state_types import StateConfig
from gateway.config.types import AdminConfig, GatewayConfig, KeyConfig, LoggingConfig, ServerConfig
from gateway.runtime import Secret, build_runtime


def config(keys: tuple[KeyConfig, ...]) -> GatewayConfig:
    return GatewayConfig(
        server=ServerConfig(),
        state=StateConfig(),
        logging=LoggingConfig(),
        admin=AdminConfig(),
        providers=MappingProxyType(
            {"p": ProviderConfig(name="p", type="openai", base_url="http://x", api_key_env="P_KEY")}
        ),
        models=MappingProxyType({}),
        keys=keys,
        policies=MappingProxyType({}),
        policies_dir=Path("policies"),
    )


def test_key_found_by_sha256_only() -> None:
    key = KeyConfig(id="k", key_sha256=hashlib.sha256(b"sk-demo").hexdigest())
    runtime = build_runtime(config((key,)), env={})
    assert runtime.find_key("sk-demo") is key
    assert runtime.find_key("sk-demo ") is None
    assert runtime.find_key(key.key_sha256) is None


def test_provider_secret_never_in_repr() -> None:
    runtime = build_runtime(config(()), env={"P_KEY": "very-secret-value"})
    assert runtime.provider_key("p") == "very-secret-value"
    assert "very-secret-value" not in repr(runtime)
    assert str(Secret("abc")) == "Secret('****')"


def test_a_previous_secret_is_the_same_key_and_says_so() -> None:
    """While a key's secret is rotated, both secrets are that one key (its id, limits and
    budgets); which one a request presented is known (its record says `key_secret`)."""
    key = KeyConfig(
        id="k",
        key_sha256=hashlib.sha256(b"sk-new").hexdigest(),
        previous_key_sha256=hashlib.sha256(b"sk-old").hexdigest(),
    )
    other = KeyConfig(id="o", key_sha256=hashlib.sha256(b"sk-other").hexdigest())
    runtime = build_runtime(config((key, other)), env={})
    assert runtime.find_secret("sk-new") == (key, False)
    assert runtime.find_secret("sk-old") == (key, True)
    assert runtime.find_secret("sk-other") == (other, False)
    assert runtime.find_secret("sk-older") is None
    assert runtime.find_key("sk-old") is key
    dropped = build_runtime(config((dataclasses.replace(key, previous_key_sha256=None),)), env={})
    assert dropped.find_secret("sk-old") is None  # the rotation's end: refused
