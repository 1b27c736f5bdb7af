"""The language a prompt is written in, for the ``language`` signal, dry runs and per-language reports.

Why py3langid (BSD-3, PyPI): its naive Bayes over byte n-grams ships inside the package (nothing is
downloaded), covers 140 languages, needs only numpy, and answers in 0.1-0.7 ms for a chat turn. The
shared MiniLM embedding cannot stand in for it: its vocabulary is English, so Chinese, Hindi or Arabic
text becomes mostly unknown word pieces, and a head on it would tell little apart beyond Latin scripts.

Three choices, each for short chat text:

* The candidates are the ~60 languages below, not all 140: regional varieties and rare languages
  (Low German, Walloon, Volapük, ...) otherwise take two-word English or Spanish turns.
* Only the first ``MAX_CHARS`` characters are read, so the cost is bounded whatever was pasted.
* Text with no letters (code, numbers, emoji) is ``und`` (undetermined) with confidence 0, and so is
  a guess below ``MIN_GUESS`` ("hi", "ok", ``print(x)`` score 0.03 for whichever language is on top).

The model decompresses in ~0.8 s, so servers load it in a thread while the embedding model warms up
(:meth:`LanguageDetector.shared` is thread-safe) and a request never pays for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

MAX_CHARS = 1000
UNDETERMINED = "und"
MIN_GUESS = 0.2

# ISO 639-1 codes (py3langid's labels) a gateway meets in practice.
LANGUAGES = (
    "af", "am", "ar", "az", "be", "bg", "bn", "bs", "ca", "cs", "cy", "da", "de", "el", "en", "eo", "es",
    "et", "eu", "fa", "fi", "fr", "ga", "gl", "gu", "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja",
    "ka", "kk", "km", "kn", "ko", "lt", "lv", "mk", "ml", "mn", "mr", "ms", "my", "ne", "nl", "no", "pa",
    "pl", "ps", "pt", "ro", "ru", "si", "sk", "sl", "sq", "sr", "sv", "sw", "ta", "te", "th", "tl", "tr",
    "uk", "ur", "uz", "vi", "zh",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "confidence": round(self.confidence, 4)}


class LanguageDetector:
    """One per process (the model is ~30 MB of arrays once decompressed); ``detect`` is thread-safe."""

    _shared: ClassVar[LanguageDetector | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

        self._ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._ident.set_languages(list(LANGUAGES))

    @classmethod
    def shared(cls) -> LanguageDetector:
        if cls._shared is None:
            with cls._lock:
                if cls._shared is None:
                    cls._shared = cls()
        return cls._shared

    def detect(self, text: str) -> Language:
        head = text[:MAX_CHARS]
        if not any(c.isalpha() for c in head):
            return Language(UNDETERMINED, 0.0)
        code, prob = self._ident.classify(head)
        return Language(str(code) if prob >= MIN_GUESS else UNDETERMINED, float(prob))


def detect(text: str) -> Language:
    """The language of ``text`` with the shared detector (loads it on first use)."""
    return LanguageDetector.shared().detect(text)
