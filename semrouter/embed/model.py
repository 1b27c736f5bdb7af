"""Sentence-embedding runtime: all-MiniLM-L6-v2 on ONNX Runtime, CPU, no torch.

Why ONNX Runtime fp32 with the BERT-fused graph: on the 2-core CI machine it is 2-4x faster than torch
eager and identical to the sentence-transformers reference (cosine 1.0000). int8 was measured and
rejected: dynamic int8 (1.7x faster again) quantises activations per whole padded batch, so a text's
vector depended on what it was micro-batched with (cosine 0.957) and short texts drifted to 0.968;
weight-only int8 (MatMulNBits) is batch-stable but 3x slower on batches. Weights are stored fp16 in the
file (45 MB) and cast to fp32 once at load. See ``bench/embedding.py`` and ``scripts/export_embedding.py``.

Serving needs only ``onnxruntime``, ``tokenizers`` and ``numpy``: a ``pip install`` of the project must
not pull torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_MODEL_FILE = "minilm-l6-v2.onnx"
TOKENIZER_FILE = "tokenizer.json"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
MAX_TOKENS = 256
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
    is the sentence-transformers embedding. ``onnxruntime.InferenceSession.run`` is thread-safe, but
    the router runs all inference from one worker thread (see ``EmbeddingService``) so that the
    ``intra_op_threads`` cores are not oversubscribed.

    ``intra_op_threads`` defaults to ``SEMROUTER_EMBED_THREADS`` or 2 (on 2 cores, 2 threads roughly
    halves a 256-token query's latency vs 1; use 1 where several worker processes share the cores).
    ``spin=False`` stops idle ORT threads busy-waiting, which otherwise takes CPU from the event loop.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        intra_op_threads: int | None = None,
        max_tokens: int = MAX_TOKENS,
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort
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
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, intra_op_threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT workers busy-wait by default; on 2 cores that steals the event loop's CPU.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self._session: Any = ort.InferenceSession(
            str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()
        self.info = EmbeddingModelInfo(MODEL_ID, self.model_path.name, EMBEDDING_DIM, max_tokens)

    def token_ids(self, text: str) -> list[int]:
        """The exact ids fed to the model for ``text`` (specials included, at most ``max_tokens``)."""
        enc = self._tokenizer.encode(_clip_chars(text), add_special_tokens=False)
        return select_token_ids(enc.ids, self._cls_id, self._sep_id, self.max_tokens)

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encs = self._tokenizer.encode_batch([_clip_chars(t) for t in texts], add_special_tokens=False)
        return [select_token_ids(e.ids, self._cls_id, self._sep_id, self.max_tokens) for e in encs]

    def embed_ids(self, batch_ids: Sequence[Sequence[int]]) -> FloatArray:
        """Run the graph on pre-tokenised sequences (padded here to the longest in the batch)."""
        n = len(batch_ids)
        if n == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        width = max(len(ids) for ids in batch_ids)
        input_ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds: dict[str, npt.NDArray[np.int64]] = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        with self._lock:
            (out,) = self._session.run(["sentence_embedding"], feeds)
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` in one forward pass: float32 [len(texts), 384], unit L2 norm per row.

        Long texts are reduced deterministically to their first 127 + last 127 word pieces (see
        ``select_token_ids``); the pass is padded to the longest selected text, so callers batching
        many texts should group them by length (``EmbeddingService.embed_many`` does).
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a str")
        return self.embed_ids(self.token_ids_batch(texts))
