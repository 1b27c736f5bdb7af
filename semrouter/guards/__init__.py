"""Request guards that run on the shared embedding: jailbreak / prompt-injection detection."""

from semrouter.guards.jailbreak import JailbreakDetector, JailbreakResult

__all__ = ["JailbreakDetector", "JailbreakResult"]
