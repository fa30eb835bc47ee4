"""Configuration: TOML files -> validated, immutable types (see docs/configuration.md)."""

from gateway.config.errors import ConfigError, Problem
from gateway.config.keys import hash_key
from gateway.config.load import check_config, load_config
from gateway.config.provider_types import ProviderConfig
from gateway.config.state_types import StateConfig
from gateway.config.types import (
    AdminConfig,
    CacheConfig,
    DeploymentConfig,
    GatewayConfig,
    KeyConfig,
    LimitsConfig,
    LoggingConfig,
    ModelConfig,
    PolicyConfig,
    ServerConfig,
    Timeouts,
)

__all__ = [
    "AdminConfig",
    "CacheConfig",
    "ConfigError",
    "DeploymentConfig",
    "GatewayConfig",
    "KeyConfig",
    "LimitsConfig",
    "LoggingConfig",
    "ModelConfig",
    "PolicyConfig",
    "Problem",
    "ProviderConfig",
    "ServerConfig",
    "StateConfig",
    "Timeouts",
    "check_config",
    "hash_key",
    "load_config",
]
