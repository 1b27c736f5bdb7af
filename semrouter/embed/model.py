"""Sentence-embedding runtime: all-MiniLM-L6-v2 on ONNX Runtime, CPU, no torch.

What ships: the BERT-fused graph, SmoothQuant-rescaled (alpha 0.7, calibrated on MMLU), then dynamic int8
(per-channel int8 weights; activations quantised at run time with one scale per input tensor) on every
MatMul and the fused Attention. On the 2-core CI machine it is 2-3x faster than the fp32 graph (64
tokens: ~4-6 ms vs ~7-13 ms) at cosine 0.997 mean / 0.98 min vs the sentence-transformers reference.

Batch invariance: a dynamic activation scale is taken over the *whole* input tensor, so in a padded
batch a text's vector would depend on its neighbours (cosine 0.957 alone vs batched). The graph is
therefore marked ``semrouter.batching=per_text`` and ``embed_ids`` runs every text as its own batch of
one (no padding, no neighbours): the same text gives the same vector alone or in any batch. Batches are
spread over ``intra_op_threads`` threads, one text per thread (single-threaded ORT session each), which
on 2 cores is ~1.5x the throughput of one 2-thread session and faster than padded fp32 batches. A graph
without the mark (fp32) is run as one padded batch, as before.

Rejected options and their numbers: ``scripts/export_embedding.py`` docstring and ``bench/embedding.py``.

Serving needs only ``onnxruntime``, ``tokenizers`` and ``numpy``: a ``pip install`` of the project must
not pull torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_MODEL_FILE = "minilm-l6-v2.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
MAX_TOKENS = 256
BATCHING_METADATA_KEY = "semrouter.batching"
"""ONNX ``metadata_props`` key; value ``per_text`` = run each text alone (see the module docstring)."""
"""The model's trained limit (``sentence_bert_config.json``: ``max_seq_length`` 256), specials included."""

# Texts longer than this many characters are cut to head + tail *before* tokenising, so that a
# multi-megabyte prompt costs bounded tokenizer time. 4096 chars is far more than the 127 word pieces
# kept from each end (a word piece is >= 1 char), so the selection below is unaffected in practice.
_CHAR_WINDOW = 4096

FloatArray = npt.NDArray[np.float32]


def select_token_ids(ids: Sequence[int], cls_id: int, sep_id: int, max_tokens: int = MAX_TOKENS) -> list[int]:
    """Deterministic, bounded token selection for one text: ``[CLS] head … tail [SEP]``.

    ``ids`` are the word-piece ids *without* special tokens. When they fit in ``max_tokens - 2`` they are
    all kept. Otherwise the first ``ceil(budget/2)`` and the last ``floor(budget/2)`` are kept (127 + 127
    for the model's 256 limit): routing prompts carry their intent at the start (task, question) and at
    the end (the actual ask after pasted context), and a plain head cut would drop the latter.
    """
    budget = max_tokens - 2
    if len(ids) > budget:
        head = (budget + 1) // 2
        tail = budget - head
        ids = [*ids[:head], *ids[len(ids) - tail :]]
    return [cls_id, *ids, sep_id]


def cpu_session(path: Path | str, threads: int, *, spin: bool = False) -> Any:
    """An ONNX Runtime CPU session as every shipped model runs: ``threads`` intra-op threads (at least one), one
    inter-op thread, sequential, every graph optimisation; idle workers sleep unless ``spin`` (a spinning worker
    holds a core the request beside it needs)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def padded_feeds(encodings: Sequence[Any]) -> dict[str, npt.NDArray[np.int64]]:
    """``input_ids`` / ``attention_mask`` / ``token_type_ids`` of ``tokenizers`` encodings (one text or a
    pair each), zero-padded to the longest: the inputs of the pair model and the guards' reader."""
    n = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), n), np.int64)
    mask = np.zeros((len(encodings), n), np.int64)
    types = np.zeros((len(encodings), n), np.int64)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
        types[i, : len(e.type_ids)] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _clip_chars(text: str) -> str:
    if len(text) <= 2 * _CHAR_WINDOW:
        return text
    return text[:_CHAR_WINDOW] + " " + text[-_CHAR_WINDOW:]


@dataclass(frozen=True)
class EmbeddingModelInfo:
    """What produced an embedding; stored with trained heads so a head is never paired with another model."""

    model_id: str
    model_file: str
    dim: int
    max_tokens: int


class EmbeddingModel:
    """all-MiniLM-L6-v2 ONNX session + tokenizer; ``embed`` returns L2-normalised float32 [n, 384].

    The ONNX graph computes the transformer, masked mean pooling and L2 normalisation, so the output
    is the sentence-transformers embedding. Calls are serialised by a lock (the router runs all
    inference from one worker thread, see ``EmbeddingService``) so that the ``intra_op_threads`` cores
    are not oversubscribed.

    ``intra_op_threads`` defaults to ``SEMROUTER_EMBED_THREADS`` or 2 (use 1 where several worker
    processes share the cores). A lone text runs on one session with that many ORT threads; a batch of
    a ``per_text`` graph runs its texts concurrently, one per thread, on a second, single-threaded
    session. ``per_text`` defaults to the graph's ``semrouter.batching`` metadata; ``True`` forces
    per-text execution for any graph. ``spin`` (default ``SEMROUTER_EMBED_SPIN`` or on) lets the lone-text
    session's ORT threads busy-wait between the graph's ~100 parallel sections instead of sleeping:
    each wake-up costs ~10 µs, which made a 64-token embedding ~1 ms slower (3.1-3.6 ms vs 4.0-4.9 ms,
    2 threads). The batch path's single-threaded session never spins, so under load (when batches form)
    no core is burnt waiting.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        intra_op_threads: int | None = None,
        max_tokens: int = MAX_TOKENS,
        spin: bool | None = None,
        per_text: bool | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.model_path = Path(model_path) if model_path is not None else ASSETS_DIR / DEFAULT_MODEL_FILE
        tok_path = Path(tokenizer_path) if tokenizer_path is not None else ASSETS_DIR / TOKENIZER_FILE
        if not self.model_path.is_file():
            raise FileNotFoundError(f"embedding model not found: {self.model_path}")
        if not 8 <= max_tokens <= MAX_TOKENS:
            raise ValueError(f"max_tokens must be in [8, {MAX_TOKENS}], got {max_tokens}")
        self.max_tokens = max_tokens

        self._tokenizer = Tokenizer.from_file(str(tok_path))
        # The shipped tokenizer.json pads/truncates to a fixed 128; selection and padding are done here.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        cls_id = self._tokenizer.token_to_id("[CLS]")
        sep_id = self._tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ValueError(f"{tok_path}: not a BERT word-piece tokenizer ([CLS]/[SEP] missing)")
        self._cls_id: int = cls_id
        self._sep_id: int = sep_id

        if intra_op_threads is None:
            intra_op_threads = int(os.environ.get("SEMROUTER_EMBED_THREADS", "2"))
        self.threads = max(1, intra_op_threads)
        self._spin = spin if spin is not None else os.environ.get("SEMROUTER_EMBED_SPIN", "1") != "0"
        self._session: Any = self._new_session(self.threads, spin=self._spin and self.threads > 1)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.per_text: bool = per_text if per_text is not None else meta.get(BATCHING_METADATA_KEY) == "per_text"
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()
        # Per-text batches: a single-threaded session shared by ``threads`` pool threads (created on first use).
        self._single: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self.info = EmbeddingModelInfo(MODEL_ID, self.model_path.name, EMBEDDING_DIM, max_tokens)

    def _new_session(self, threads: int, *, spin: bool = False) -> Any:
        # ORT workers busy-wait by default; only the lone-text session may (see the class docstring).
        return cpu_session(self.model_path, threads, spin=spin)

    def token_ids(self, text: str) -> list[int]:
        """The exact ids fed to the model for ``text`` (specials included, at most ``max_tokens``)."""
        enc = self._tokenizer.encode(_clip_chars(text), add_special_tokens=False)
        return select_token_ids(enc.ids, self._cls_id, self._sep_id, self.max_tokens)

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encs = self._tokenizer.encode_batch([_clip_chars(t) for t in texts], add_special_tokens=False)
        return [select_token_ids(e.ids, self._cls_id, self._sep_id, self.max_tokens) for e in encs]

    def _run(self, session: Any, batch_ids: Sequence[Sequence[int]]) -> FloatArray:
        n = len(batch_ids)
        width = max(len(ids) for ids in batch_ids)
        input_ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds: dict[str, npt.NDArray[np.int64]] = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (out,) = session.run(["sentence_embedding"], feeds)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _run_per_text(self, batch_ids: Sequence[Sequence[int]]) -> FloatArray:
        out = np.empty((len(batch_ids), EMBEDDING_DIM), dtype=np.float32)
        if len(batch_ids) == 1 or self.threads == 1:
            for row, ids in enumerate(batch_ids):
                out[row] = self._run(self._session, [ids])[0]
            return out
        if self._pool is None:
            self._single = self._new_session(1, spin=False)
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="semrouter-embed-ort")
        single = self._single
        # Longest first, so the threads finish together; ORT releases the GIL during run().
        order = sorted(range(len(batch_ids)), key=lambda i: -len(batch_ids[i]))
        vecs = self._pool.map(lambda i: self._run(single, [batch_ids[i]])[0], order)
        for row, vec in zip(order, vecs, strict=True):
            out[row] = vec
        return out

    def embed_ids(self, batch_ids: Sequence[Sequence[int]]) -> FloatArray:
        """Run the graph on pre-tokenised sequences: one text at a time for a ``per_text`` graph, else
        one pass padded to the longest in the batch."""
        if len(batch_ids) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            if self.per_text:
                return self._run_per_text(batch_ids)
            return self._run(self._session, batch_ids)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts``: float32 [len(texts), 384], unit L2 norm per row, independent of the batch.

        Long texts are reduced deterministically to their first 127 + last 127 word pieces (see
        ``select_token_ids``). For a padded (non ``per_text``) graph the pass is padded to the longest
        selected text, so callers batching many texts should group them by length
        (``EmbeddingService.embed_many`` does).
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a str")
        return self.embed_ids(self.token_ids_batch(texts))

    def close(self) -> None:
        """Stop the per-text pool threads (the sessions are freed with the object)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
