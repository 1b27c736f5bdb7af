"""The ``tenant`` stage: once the model is known, the tenant's rules (403) and limits (429) apply.

It runs after selection and session pinning (the model they chose is the one checked and priced) and
before the guard policy and the cache; for explicit-model requests too (it is not ``routing_only``), and
on every API path. Who the tenant is was settled at the intake (:func:`semrouter.tenancy.authenticate`).
"""

from __future__ import annotations

from semrouter.context import LocalResponse, RequestContext
from semrouter.pipeline import Stage
from semrouter.tenancy import admit, narrow


class TenantStage(Stage):
    name = "tenant"

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        if ctx.tenancy is not None:  # None: a dry run, which is neither refused nor counted
            narrow(ctx)
            await admit(ctx)
        return None
