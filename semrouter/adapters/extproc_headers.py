"""The ``x-vsr-*`` headers of answers that Envoy relays without showing them to semrouter.

Behind Envoy, the answer's headers phase is one more gRPC round trip per request through the ext_proc
process (a third of them). When nothing reads the answer (``extproc.response_phase: auto``), semrouter
skips it: its routing answer carries the headers as dynamic metadata, and Envoy's route config copies
them into the answer. This module is the one list both sides use: :mod:`semrouter.adapters.extproc`
sends it, :mod:`semrouter.devtools.fleet` writes the route config from it, and a test holds the shipped
Envoy configs to it. It imports nothing heavy, so the fleet command can use it without the gRPC stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["API_PATH_REGEX", "METADATA_NAMESPACE", "RESPONSE_HEADERS", "envoy_response_headers"]

METADATA_NAMESPACE = "semrouter"
"""Dynamic-metadata namespace of the ``x-vsr-*`` headers sent with the request body's answer (Envoy's
``metadata_options.receiving_namespaces`` must accept it)."""

RESPONSE_HEADERS: tuple[str, ...] = (
    "x-request-id",
    "x-vsr-selected-model",
    "x-vsr-selected-decision",
    "x-vsr-selected-category",
    "x-vsr-selected-reasoning",
    "x-vsr-injected-system-prompt",
    "x-vsr-tools-selected",
    "x-vsr-selection-reason",
    "x-vsr-session-pinned",
    "x-vsr-session-switched-from",
    "x-vsr-cache-hit",
    "x-vsr-jailbreak-blocked",
    "x-vsr-jailbreak-confidence",
    "x-vsr-jailbreak-type",
    "x-vsr-pii-types",
    "x-vsr-pii-action",
    "x-vsr-harmful-detected",
    "x-vsr-harmful-score",
    "x-vsr-harmful-category",
    "x-vsr-harmful-action",
    "x-vsr-harmful-routed-from",
    "x-vsr-upstream-api",
)
"""The headers a forwarded answer can carry from routing: what the shipped Envoy configs copy from the
metadata into answers (and remove from a worker's). A test checks every config lists exactly these and
that the pipeline sets no other on a forwarded request; answers semrouter makes itself (blocks, cache
hits, errors) carry their headers directly."""


API_PATH_REGEX = "/v1/(chat/completions|completions|embeddings|responses|messages)"
"""The paths semrouter serves (``API_PATHS`` and ``DIALECTS`` of :mod:`semrouter.adapters.intake`, a test
checks) as an Envoy route regex: ext_proc runs on these routes and is turned off on every other one, so a
models listing or a health probe costs no gRPC stream."""


def envoy_response_headers(request_id_header: str = "x-request-id") -> dict[str, Any]:
    """The virtual host's answer-header settings that go with :data:`RESPONSE_HEADERS`: a worker's own
    ``x-vsr-*`` removed, then each copied from the metadata (an absent key adds nothing). Envoy removes
    before it adds. ``request_id_header`` is the config's ``server.request_id_header``: the request id goes
    back under that name."""
    names = [request_id_header, *(h for h in RESPONSE_HEADERS if h != "x-request-id")]
    return {
        "response_headers_to_remove": [h for h in RESPONSE_HEADERS if h.startswith("x-vsr-")],
        "response_headers_to_add": [
            {
                "header": {"key": h, "value": f"%DYNAMIC_METADATA({METADATA_NAMESPACE}:{h})%"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
            for h in names
        ],
    }
