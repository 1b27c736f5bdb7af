"""Configuration: schema, loading with precise errors, and hot reload."""

from semrouter.config.loader import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from semrouter.config.schema import DecisionConfig, EndpointConfig, ModelConfig, RouterConfig

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "DecisionConfig",
    "EndpointConfig",
    "ModelConfig",
    "RouterConfig",
    "load_config",
    "parse_config",
]
