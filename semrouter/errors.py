"""OpenAI-style errors.

Every failure a client can see leaves the router as ``{"error": {"message", "type", "param", "code"}}``
with a meaningful HTTP status, so OpenAI SDKs raise the right exception class and users get a reason
instead of a bare 500.
"""

from __future__ import annotations

from typing import Any

import orjson


class RouterError(Exception):
    """An error that becomes an OpenAI-style JSON response.

    Raised anywhere in the pipeline; the adapter turns it into a response, so stages never build
    error bodies themselves.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def body(self) -> bytes:
        return orjson.dumps(self.to_dict())


def invalid_request(message: str, *, param: str | None = None, code: str = "invalid_request") -> RouterError:
    return RouterError(400, message, param=param, code=code)


def model_not_found(model: str, valid: list[str]) -> RouterError:
    return RouterError(
        404,
        f"The model '{model}' does not exist. Valid models: {', '.join(valid)}",
        param="model",
        code="model_not_found",
    )


def no_healthy_endpoint(models: list[str]) -> RouterError:
    return RouterError(
        503,
        f"No healthy endpoint for model(s) {', '.join(models)}",
        type="service_unavailable_error",
        code="no_healthy_endpoint",
    )


def upstream_timeout(model: str, timeout: float) -> RouterError:
    return RouterError(
        504,
        f"Upstream for model '{model}' did not answer within {timeout:g}s",
        type="timeout_error",
        code="upstream_timeout",
    )


def upstream_failed(model: str, exc: Exception) -> RouterError:
    return RouterError(
        502,
        f"Upstream for model '{model}' failed before answering",  # the cause (with addresses) is only logged
        type="upstream_error",
        code="upstream_error",
    )
