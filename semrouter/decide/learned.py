"""Learned model selection: for each candidate model, the probability that it answers this prompt well.

A :class:`SelectorModel` maps a request to P(correct) for each *outcome column* it was trained on (the
shipped one: ``weak`` = Mixtral-8x7B-Instruct, ``strong`` = GPT-4-1106, from RouteLLM's MMLU outcomes).
Its features are what the request already has by the time a model is chosen, so the selector costs a
few small matrix products on top of the shared embedding (measured by ``bench/selector.py``):

- the shared 384-d MiniLM embedding of the request text (computed once per request, shared with the
  signals);
- the shipped domain head's 14 category probabilities (its embedding part only, so the cost stays a
  384x14 product; the lexical part, ~0.1 ms more, was not tried);
- a few length and shape features of the text (characters, words, digits, lines, options).

The linear, MLP and pairwise families read all three; the kNN family reads the embedding alone. The
shipped model is kNN over 1,024 k-means centroids of the training prompts: it cross-validated best
(docs/benchmarks.md, "Learned selector"), so on the shipped data the signals did not earn their place.

Complexity and language signals are not features: the complexity signal depends on each config's own
examples, and the outcome data is English only, so a language feature would carry no learned weight.

Why a probability per model rather than one "strong needed" score: the decision then weighs quality
against price for any number of candidates with one knob, ``cost_weight`` (how much probability of a good
answer the dearest candidate's price is worth): utility = P(good) - cost_weight * price / dearest price.
``cost_weight`` 0 always picks the likeliest-to-be-right model; a large one always the cheapest.

Families (``kind`` in the ``.npz``): ``linear`` (a logistic regression per column), ``mlp`` (one hidden
layer shared by the columns), ``knn`` (similarity-weighted outcome rates of the k nearest training
prompts) and ``pairwise`` (two columns: a logistic regression on the prompts where the two models
disagree, RouteLLM's win-rate formulation). ``semrouter train selector`` fits them all and keeps the one
with the best cross-validated APGR; everything loads with numpy alone (no run-time download).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from semrouter.config.schema import DecisionConfig, RouterConfig, SelectionConfig
from semrouter.decide.selection import CostAwareSelector

if TYPE_CHECKING:
    from semrouter.context import RequestContext

ASSETS_DIR = Path(__file__).resolve().parent / "assets"  # shipped in the wheel (package-data **/assets/*)
SELECTOR_PATH = ASSETS_DIR / "selector.npz"
KINDS = ("linear", "mlp", "knn", "pairwise")
SHAPE_FEATURES = ("log_chars", "log_words", "digit_share", "log_lines", "options", "question_marks")
SHAPE_MAX_CHARS = 4000  # shape features read the first 4,000 characters: bounded cost on any input

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_OPTION = re.compile(r"(?m)^\s*\(?[A-Ja-j][.)]\s")


def shape_features(text: str) -> list[float]:
    """Length and layout of a prompt: long, numeric, multiple-choice questions are harder for a weak model.

    Counted on the UTF-8 bytes (ASCII digits and whitespace), in C: per-character Python loops over the
    4,000 characters read cost ~0.2 ms of a decision whose budget is 0.3 ms."""
    t = text[:SHAPE_MAX_CHARS]
    raw = t.encode("utf-8", "surrogatepass")
    n = max(1, len(t))
    digits = len(raw) - len(raw.translate(None, b"0123456789"))
    return [
        math.log1p(len(text)),
        math.log1p(len(raw.split())),
        digits / n,
        math.log1p(t.count("\n")),
        float(len(_OPTION.findall(t))),
        float(t.count("?")),
    ]


def float_dot(x: F32, w: F32) -> F64:
    """``x @ w`` in float32 (as the batch path computes it), returned as float64."""
    out: F64 = (x @ w).astype(np.float64)
    return out


def _sigmoid(z: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return out


@dataclass(frozen=True)
class SelectorModel:
    """P(answers well) per outcome column from (embedding, text); immutable, shared between threads.

    ``params`` holds the family's arrays: ``linear``: ``w`` [d, m], ``b`` [m]; ``mlp``: ``w1`` [d, h],
    ``b1`` [h], ``w2`` [h, m], ``b2`` [m]; ``knn``: ``keys`` [N, 384] (unit rows, float16), ``values``
    [N, m] (outcome rates), ``counts`` [N] (prompts behind each key: 1, or a cluster's size when the
    training prompts were summarised by k-means centroids), ``k`` and ``prior`` [m] (the rate the
    neighbour mean shrinks towards, with weight ``strength``);
    ``pairwise`` (two columns): ``w`` [d, 1], ``b`` [1] for P(the second column wins | the two
    disagree), ``disagree`` and ``base`` [2].
    ``mean``/``std`` standardise the extra (non-embedding) features; ``domain_w``/``domain_b`` are the
    domain head's embedding weights, so the model does not depend on which domain head a config loads.
    """

    kind: str
    columns: tuple[str, ...]
    params: dict[str, npt.NDArray[Any]]
    mean: F32
    std: F32
    domain_w: F32
    domain_b: F32
    domain_t: float
    metadata: dict[str, Any] = field(default_factory=dict)
    _folded: tuple[F32, F64, F64, F64] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown selector kind {self.kind!r} (one of {', '.join(KINDS)})")
        if len(self.columns) < 1:
            raise ValueError("a selector needs at least one outcome column")
        m = len(self.columns)
        if self.kind == "pairwise" and m != 2:
            raise ValueError("a pairwise selector compares exactly two outcome columns")
        out_dim = {"linear": "b", "mlp": "b2", "knn": "prior", "pairwise": "base"}[self.kind]
        if self.params[out_dim].shape != (m,):
            raise ValueError(f"{self.kind} selector output has {self.params[out_dim].shape} for {m} columns")
        if self.kind == "linear":  # the one-request path's weights, standardisation folded in
            w, b = self.params["w"].astype(np.float64), self.params["b"].astype(np.float64)
            d = self.domain_w.shape[0]
            scale = 1.0 / self.std.astype(np.float64)
            w_extra = w[d:] * scale[:, None]
            folded = (
                w[:d].astype(np.float32),
                w_extra[: self.domain_w.shape[1]],
                w_extra[self.domain_w.shape[1] :],
                b - (self.mean.astype(np.float64) * scale) @ w[d:],
            )
            object.__setattr__(self, "_folded", folded)  # frozen: derived once, here

    def extras(self, emb: F32, texts: Sequence[str]) -> F32:
        """Standardised [domain probabilities, shape features] for a batch [n, 384]."""
        from semrouter.embed.heads import softmax

        dom = softmax((emb @ self.domain_w + self.domain_b) / self.domain_t)
        shape = np.asarray([shape_features(t) for t in texts], dtype=np.float64).reshape(len(texts), -1)
        raw = np.hstack([dom, shape]).astype(np.float32)
        out: F32 = (raw - self.mean) / self.std
        return out

    def proba_batch(self, emb: npt.ArrayLike, texts: Sequence[str]) -> F64:
        """[n, m] P(answers well) per column for embeddings [n, 384] and their texts."""
        x = np.atleast_2d(np.asarray(emb, dtype=np.float32))
        if len(texts) != x.shape[0]:
            raise ValueError("texts and embeddings differ in number")
        p = self.params
        if self.kind == "knn":
            sims = x @ p["keys"].T.astype(np.float32) if p["keys"].dtype != np.float32 else x @ p["keys"].T
            k = int(p["k"])
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            s = np.take_along_axis(sims, idx, axis=1).astype(np.float64)
            wts = np.exp((s - s.max(axis=1, keepdims=True)) * float(p["sharpness"])) * p["counts"][idx]
            vals = p["values"][idx].astype(np.float64)  # [n, k, m]
            prior, strength = p["prior"].astype(np.float64), float(p["strength"])
            num = (wts[:, :, None] * vals).sum(axis=1) + strength * prior
            out: F64 = num / (wts.sum(axis=1, keepdims=True) + strength)
            return out
        feats = np.hstack([x, self.extras(x, texts)]).astype(np.float32)
        if self.kind == "linear":
            return _sigmoid((feats @ p["w"] + p["b"]).astype(np.float64))
        if self.kind == "pairwise":
            # P(second column wins | the two disagree) = q; the expected gain over the first column is then
            # P(disagree) * (2q - 1), added to the first column's base rate
            q = _sigmoid((feats @ p["w"] + p["b"]).astype(np.float64))[:, 0]
            base = p["base"].astype(np.float64)
            second = np.clip(base[0] + float(p["disagree"]) * (2 * q - 1), 0.0, 1.0)
            return np.stack([np.full_like(second, base[0]), second], axis=1)
        hidden = np.maximum(feats @ p["w1"] + p["b1"], 0.0)
        return _sigmoid((hidden @ p["w2"] + p["b2"]).astype(np.float64))

    def proba(self, emb: npt.ArrayLike, text: str) -> dict[str, float]:
        """P(answers well) per outcome column for one request."""
        if self.kind == "linear":
            row = self._linear_one(np.asarray(emb, dtype=np.float32).reshape(-1), text)
        else:
            row = self.proba_batch(np.asarray(emb, dtype=np.float32).reshape(1, -1), [text])[0]
        return {c: float(v) for c, v in zip(self.columns, row, strict=True)}

    def _linear_one(self, x: F32, text: str) -> F64:
        """The linear model for one request in five small products (the batch path's stacking and casts cost
        ~0.1 ms of numpy overhead a request): standardisation is folded into the weights once."""
        assert self._folded is not None
        w_emb, w_dom, w_shape, bias = self._folded
        z = (x @ self.domain_w + self.domain_b).astype(np.float64) / self.domain_t
        e = np.exp(z - z.max())
        logit = float_dot(x, w_emb) + (e / e.sum()) @ w_dom + np.asarray(shape_features(text)) @ w_shape + bias
        return _sigmoid(logit)

    @property
    def weak_column(self) -> str:
        return "weak" if "weak" in self.columns else self.columns[0]

    @property
    def strong_column(self) -> str:
        return "strong" if "strong" in self.columns else self.columns[-1]

    def strong_scores(
        self, prompts: Sequence[str], *, embedding_cache: str | None = None, progress: bool = False
    ) -> F64:
        """Need for the strong model, P(strong good) - P(weak good), for many prompts (evaluation path)."""
        emb = embed_texts(prompts, embedding_cache, progress)
        return self.strong_scores_from(emb, prompts)

    def strong_scores_from(self, emb: npt.ArrayLike, prompts: Sequence[str]) -> F64:
        p = self.proba_batch(emb, prompts)
        si, wi = self.columns.index(self.strong_column), self.columns.index(self.weak_column)
        out: F64 = p[:, si] - p[:, wi]
        return out

    def describe(self) -> str:
        """One line for reports: the family, the columns and the file (the shipped one named as such)."""
        src = str(self.metadata.get("path", "selector"))
        if Path(src).resolve() == SELECTOR_PATH.resolve():
            src = "the shipped semrouter/decide/assets/selector.npz"
        else:
            from semrouter.paths import shown_path

            src = shown_path(src)
        return f"learned selector ({self.kind}, columns {', '.join(self.columns)}) from {src}"

    def save(self, path: str | Path) -> None:
        arrays: dict[str, Any] = {f"p_{k}": np.asarray(v) for k, v in self.params.items()}
        if "p_keys" in arrays:
            arrays["p_keys"] = arrays["p_keys"].astype(np.float16)  # 2x smaller; cosine error ~1e-3
        np.savez_compressed(
            Path(path),
            **arrays,
            kind=np.array(self.kind),
            columns=np.array(self.columns, dtype=str),
            mean=self.mean.astype(np.float32),
            std=self.std.astype(np.float32),
            domain_w=self.domain_w.astype(np.float32),
            domain_b=self.domain_b.astype(np.float32),
            domain_t=np.float64(self.domain_t),
            metadata=np.array(json.dumps({k: v for k, v in self.metadata.items() if k != "path"}, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: str | Path) -> SelectorModel:
        with np.load(Path(path), allow_pickle=False) as z:
            params: dict[str, npt.NDArray[Any]] = {}
            for name in z.files:
                if name.startswith("p_"):
                    arr = z[name]
                    params[name[2:]] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
            for name in ("w", "b", "w1", "b1", "w2", "b2", "keys", "values", "prior", "base", "counts"):
                if name in params:
                    params[name] = np.ascontiguousarray(params[name], dtype=np.float32)
            metadata = json.loads(str(z["metadata"]))
            metadata["path"] = str(path)
            return cls(
                kind=str(z["kind"]),
                columns=tuple(str(c) for c in z["columns"]),
                params=params,
                mean=np.ascontiguousarray(z["mean"], dtype=np.float32),
                std=np.ascontiguousarray(z["std"], dtype=np.float32),
                domain_w=np.ascontiguousarray(z["domain_w"], dtype=np.float32),
                domain_b=np.ascontiguousarray(z["domain_b"], dtype=np.float32),
                domain_t=float(z["domain_t"]),
                metadata=metadata,
            )


_load_lock = threading.Lock()
_loaded: dict[str | None, SelectorModel] = {}  # by the path as configured: the per-request lookup is one dict get


@lru_cache(maxsize=8)
def _load_cached(path: str) -> SelectorModel:
    return SelectorModel.load(path)


def load_selector_model(path: str | Path | None = None) -> SelectorModel:
    """The shipped selector (or a trained one at ``path``), loaded once per process and path."""
    key = None if path is None else str(path)
    model = _loaded.get(key)
    if model is None:
        with _load_lock:
            model = _load_cached(str(SELECTOR_PATH if path is None else Path(path).resolve()))
            _loaded[key] = model
    return model


def embed_texts(texts: Sequence[str], cache: str | Path | None = None, progress: bool = False) -> F32:
    """Bulk embeddings with the shared model (optionally cached by text hash) for training and evaluation."""
    if cache is not None:
        from semrouter.embed.train import embed_cached

        return embed_cached(texts, None, cache)
    from semrouter.embed.service import EmbeddingService

    return EmbeddingService.default().embed_many(texts, progress=progress)


def assign_columns(
    decision: DecisionConfig, config: RouterConfig, model: SelectorModel, tiers: dict[str, str]
) -> tuple[dict[str, str], dict[str, float]]:
    """(candidate -> outcome column, candidate -> price relative to the dearest) for one decision.

    ``tiers`` (config) names a candidate's column outright. The rest are matched by price: candidates
    sorted from cheapest to dearest are spread over the columns in their trained order (the shipped
    ``weak``, ``strong``), so with two candidates the cheaper reads ``weak`` and the dearer ``strong``.
    Equal prices keep config order.
    """
    prices: dict[str, float] = {}
    for m in decision.models:
        mc = config.model(m.model)
        p = mc.pricing if mc else None
        prices[m.model] = (p.prompt_per_1m + p.completion_per_1m) / 2 if p else 0.0
    top = max(prices.values(), default=0.0) or 1.0
    rel = {k: v / top for k, v in prices.items()}
    ranked = sorted(prices, key=lambda name: prices[name])  # stable: equal prices keep config order
    cols, n = model.columns, len(ranked)
    out = {}
    for r, name in enumerate(ranked):
        out[name] = tiers.get(name) or cols[round(r * (len(cols) - 1) / (n - 1)) if n > 1 else -1]
        if out[name] not in cols:
            raise ValueError(f"tiers: {name!r} is mapped to {out[name]!r}, not one of {list(cols)}")
    return out, rel


class LearnedSelector:
    """Pick the candidate with the best P(answers well) - ``cost_weight`` x relative price.

    Needs the request (its embedding and text), so the selection stage calls :meth:`select_request`;
    the plain ``select`` (no request) falls back to the cost-aware choice on configured scores.
    """

    def __init__(self, cfg: SelectionConfig) -> None:
        self.cfg = cfg

    @property
    def model(self) -> SelectorModel:
        return load_selector_model(self.cfg.selector)

    def select(self, decision: DecisionConfig, config: RouterConfig) -> tuple[str, dict[str, float]]:
        return CostAwareSelector(self.cfg).select(decision, config)

    def choose(
        self, decision: DecisionConfig, config: RouterConfig, proba: dict[str, float]
    ) -> tuple[str, dict[str, float]]:
        """The choice given the selector's per-column probabilities (pure: tests and the eval call it)."""
        columns, rel = assign_columns(decision, config, self.model, self.cfg.tiers)
        utility = {m.model: proba[columns[m.model]] - self.cfg.cost_weight * rel[m.model] for m in decision.models}
        best = max(decision.models, key=lambda m: utility[m.model])  # ties: the one listed first
        return best.model, utility

    async def select_request(
        self, ctx: RequestContext, decision: DecisionConfig, config: RouterConfig
    ) -> tuple[str, dict[str, float]]:
        if len(decision.models) == 1:
            return decision.models[0].model, {decision.models[0].model: 1.0}
        emb = await ctx.embedding()
        proba = self.model.proba(emb, ctx.text)
        return self.choose(decision, config, proba)
