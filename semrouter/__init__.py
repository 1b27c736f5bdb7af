"""semrouter: a semantic router for LLM inference.

An OpenAI-compatible proxy (or Envoy external processor) that, per request, decides which model
answers, whether it reasons, and with which system prompt, then forwards to a pool of workers.
"""

from semrouter.config import ConfigError, RouterConfig, load_config, parse_config
from semrouter.context import LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import RouterError
from semrouter.pipeline import Pipeline, Stage

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "LocalResponse",
    "Pipeline",
    "RequestContext",
    "ResponseOutcome",
    "RouterConfig",
    "RouterError",
    "Stage",
    "__version__",
    "load_config",
    "parse_config",
]
