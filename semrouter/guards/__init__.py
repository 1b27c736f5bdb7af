"""Request guards: PII detection and jailbreak / prompt-injection detection (issue 4).

Detectors are imported where used (``semrouter.guards.jailbreak``, ``semrouter.guards.pii``): this
package is imported by the config schema, which must stay light.
"""
