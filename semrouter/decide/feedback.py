"""``POST /api/v1/feedback``: a client's verdict on an answer, which teaches the bandit (issue 19, point 3).

Body: ``{"request_id": "...", "rating": -1..1}`` (or ``"rating": 1-5`` with ``"scale": "1-5"``; a rating
above 1 reads as stars), or ``{"request_id": "...", "label": "good" | "bad"}``. The request id is the one
the router answered with (``server.request_id_header``, ``x-request-id`` by default).

Token: ``routing.feedback.token_env`` names the env var of a token made for feedback (an application
backend holds it, not end users); unset, the admin token (``server.admin_token_env``) is needed. With
neither configured the route is off (403), as the admin API is.

Answers: 200 ``{"request_id", "decision", "model", "reward", "learned"}`` (``learned``: a bandit took it;
feedback on a decision that does not use the bandit is counted in the metrics and nothing more); 400
naming the field at fault; 404 for an id the router does not know (never served, or older than ``ttl_s``
/ ``max_requests`` back; without ``routing.feedback.store``, "the router" is this process, with it any
replica sharing the store); 409 for a second verdict on the same request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from semrouter.adapters.exchange import Exchange, Route, bearer, env_token, respond_json, token_matches, unauthorized
from semrouter.decide.online import reward_of
from semrouter.errors import RouterError

if TYPE_CHECKING:
    from semrouter.router import Router

MAX_BODY = 16 * 1024


class FeedbackRoutes:
    def __init__(self, router: Router) -> None:
        self.router = router

    def routes(self) -> dict[tuple[str, str], Route]:
        return {("POST", "/api/v1/feedback"): self.feedback}

    def _authorize(self, ex: Exchange) -> None:
        cfg = self.router.runtime.config
        if not cfg.routing.feedback.enabled:
            raise RouterError(404, "Feedback is disabled (routing.feedback.enabled: false)", code="not_found")
        env = cfg.routing.feedback.token_env or cfg.server.admin_token_env
        token = env_token(env)
        if not token:
            raise RouterError(
                403,
                "Feedback is disabled: set routing.feedback.token_env (or server.admin_token_env) to the name of an "
                "environment variable holding a token, then send 'Authorization: Bearer <token>'",
                type="permission_error",
                code="feedback_disabled",
            )
        if not token_matches(bearer(ex.headers), [token]):
            raise unauthorized("feedback")

    async def feedback(self, ex: Exchange) -> None:
        self._authorize(ex)
        raw = await ex.read_body(MAX_BODY)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RouterError(400, "body: not valid JSON", code="invalid_body", param="body") from None
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if not isinstance(request_id, str) or not request_id or len(request_id) > 256:
            raise RouterError(
                400, "request_id: a non-empty string (the request's x-request-id) is required", param="request_id"
            )
        try:
            reward, _ = reward_of(body)
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            raise RouterError(400, str(exc), code="invalid_feedback", param=field) from None
        try:
            served, learned = await self.router.learning.feedback_shared(request_id, reward)
        except KeyError:
            raise RouterError(
                404,
                f"request_id: no recent request {request_id!r} on this router (unknown, or older than "
                "routing.feedback.ttl_s)",
                code="unknown_request",
                param="request_id",
            ) from None
        except ValueError as exc:
            raise RouterError(409, f"request_id: {exc}", code="feedback_exists", param="request_id") from None
        out = {
            "request_id": request_id,
            "decision": served.decision,
            "model": served.model,
            "reward": reward,
            "learned": learned,
        }
        await respond_json(ex, 200, orjson.dumps(out))
