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

Loading: py3langid ships its model LZMA-compressed (0.5 s of decompression, 0.6-1 s in all on the 2-core
host, part of every server's start-up). ``signals/assets/language_model.zlib`` holds the same arrays
already cut to ``LANGUAGES`` (what ``set_languages`` keeps), deflate-compressed: it loads in ~0.15 s into an
identifier that scores exactly as the package's own. It records the SHA-256 of the package model it was cut
from; if the installed py3langid carries another model (or the language list changed), the detector loads
the package's model as before and logs how to rebuild the asset (:func:`write_asset`). Servers still load
it in a thread while the other models load (:meth:`LanguageDetector.shared` is thread-safe), so a request
never pays for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

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
        self._ident = _load_asset() or _load_package_model()

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


ASSET = Path(__file__).parent / "signals" / "assets" / "language_model.zlib"
"""py3langid's model cut to ``LANGUAGES``, stored for a fast load (see the module docstring and
:func:`write_asset`)."""
_ARRAYS = ("ptc", "pc", "nextmove", "nextmove_row", "out_feat")
_ALIGN = 64


def _package_model_file() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE  # type: ignore[import-untyped]

    return Path(MODEL_DIR) / str(MODEL_FILE)


def _package_model_digest() -> str:
    """SHA-256 of the installed py3langid model file (4.6 MB: ~10 ms, hashlib releases the GIL)."""
    return hashlib.sha256(_package_model_file().read_bytes()).hexdigest()


def _uint_array(values: npt.NDArray[Any]) -> array[int]:
    """An unsigned NumPy array as the stdlib ``array`` py3langid's DFA walk indexes (as its loader makes)."""
    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(np.ascontiguousarray(values).data.cast("B"))
    return out


def _identifier(classes: list[str], arrays: dict[str, npt.NDArray[Any]]) -> Any:
    from py3langid.langid import LanguageIdentifier

    return LanguageIdentifier(
        np.array(arrays["ptc"]),  # copies: a view would keep the whole decompressed buffer (55 MB) alive
        np.array(arrays["pc"]),
        classes,
        _uint_array(arrays["nextmove"]),
        arrays["out_feat"].tolist(),
        norm_probs=True,
        tk_row=_uint_array(arrays["nextmove_row"]),
    )


def read_asset(path: Path = ASSET) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The asset's header (``source``, ``languages``, ``classes``) and its arrays (read-only views).

    One ``read`` and one ``zlib.decompress``, each releasing the GIL once, then views: ``np.load`` of a
    compressed ``.npz`` inflates in ~200 small chunks and copies each array again, and every chunk waits for
    the GIL anew (up to the 5 ms switch interval) while spaCy loads on another thread: its 0.2 s alone
    became 0.8 s beside a busy thread."""
    packed = path.read_bytes()
    # inflated size + 1 as the first buffer: one inflate call, and no final copy joining grown blocks
    raw = zlib.decompress(memoryview(packed)[8:], bufsize=int.from_bytes(packed[:8], "little") + 1)
    size = int.from_bytes(raw[:8], "little")
    header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    base = 8 + size
    arrays = {
        name: np.frombuffer(raw, np.dtype(dtype), count=int(np.prod(shape)), offset=base + offset).reshape(shape)
        for name, (dtype, shape, offset) in header.pop("arrays").items()
    }
    return header, arrays


def _load_asset(path: Path = ASSET) -> Any:
    """The identifier from the shipped asset, or None when it is missing or was cut from another model."""
    try:
        header, arrays = read_asset(path)
    except FileNotFoundError:
        log.warning("%s is missing: loading py3langid's own model (~1 s; rebuild: semrouter.lang.write_asset())", path)
        return None
    if tuple(header["languages"]) != LANGUAGES or header["source"] != _package_model_digest():
        log.warning(
            "%s was cut from another py3langid model or language list: loading the package's model (~1 s; "
            "rebuild: semrouter.lang.write_asset())",
            path,
        )
        return None
    return _identifier(header["classes"], arrays)


def _package_arrays() -> dict[str, npt.NDArray[Any]]:
    """py3langid's model arrays cut to ``LANGUAGES``, exactly as ``set_languages`` cuts them."""
    import lzma

    with lzma.open(_package_model_file()) as f, np.load(io.BytesIO(f.read()), allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")}
    keep = set(LANGUAGES)
    idx = [i for i, c in enumerate(arrays["classes"].tolist()) if c in keep]
    arrays["ptc"] = np.ascontiguousarray(arrays["ptc"][:, idx])
    arrays["pc"] = arrays["pc"][idx]
    arrays["classes"] = arrays["classes"][idx]
    return arrays


def _load_package_model() -> Any:
    """py3langid's own loader, cut to ``LANGUAGES`` (the path the asset stands in for)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def write_asset(path: Path = ASSET) -> Path:
    """Cut the installed py3langid model to ``LANGUAGES`` and store it for :func:`_load_asset`: the inflated
    size (8 bytes), then one zlib stream (4.9 MB; 55 MB inflated) of an 8-byte header length, a JSON header
    (source digest, languages, classes, each array's dtype, shape and offset) and the arrays' bytes."""
    arrays = _package_arrays()
    classes = arrays.pop("classes").tolist()
    layout: dict[str, tuple[str, list[int], int]] = {}
    payload = bytearray()
    for name in _ARRAYS:
        arr = np.ascontiguousarray(arrays[name])
        payload += b"\0" * (-len(payload) % _ALIGN)
        layout[name] = (arr.dtype.str, list(arr.shape), len(payload))
        payload += arr.tobytes()
    header = json.dumps(
        {"source": _package_model_digest(), "languages": list(LANGUAGES), "classes": classes, "arrays": layout}
    ).encode()
    header += b" " * (-(8 + len(header)) % _ALIGN)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = len(header).to_bytes(8, "little") + header + bytes(payload)
    path.write_bytes(len(raw).to_bytes(8, "little") + zlib.compress(raw, 9))
    return path
