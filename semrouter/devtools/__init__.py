"""Tools that run beside the router, not in it: the local fleet launcher (Envoy, replicas, a shared cache
store), the fake OpenAI-compatible worker that stands in for an LLM in the demo and the tests, and the
demo itself. Nothing under ``semrouter`` outside this package imports them except the CLI."""
