"""``semrouter train selector``: fit the learned selector on outcome data and keep the family that routes best.

Input lines ``{"prompt", "<model>_correct": bool, ...}`` (e.g. ``{"prompt", "weak_correct",
"strong_correct"}``): whether each model answered the prompt well. Every ``*_correct`` key is an outcome
column; every row must have the same ones.

Splits, decided before anything is fitted, so no number is tuned on what it is reported on:

- **held out** (~20%): by a hash of the prompt (``--split prompt``, the default and how the shipped model
  was made: every subject is seen in training, as a deployed router sees its workload's topics), or
  whole MMLU subjects (``--split subject``, rows carrying ``subject``: subjects sorted by a hash of their
  name, taken until 20% of the rows), the stricter unseen-topic view. Only the final report reads it.
- **training** (the rest): family and settings are chosen by 5-fold cross-validation grouped the same way
  (whole subjects per fold under ``--split subject``). One validation split of a dozen subjects proved too
  noisy to choose on: APGR swings by 0.2 between subject samples.
  Each family's best settings are then refitted on all of the training part; the held-out numbers
  describe exactly those models, and the chosen one is saved.

Families: ``linear`` (L2 logistic regression per column), ``pairwise`` (a logistic regression on the rows
where the two models disagree, RouteLLM's win-rate idea), ``mlp`` (one ReLU hidden layer, Adam, a fixed
number of epochs chosen by the cross-validation), ``knn`` (cosine k nearest training prompts,
similarity-weighted outcome rates shrunk towards the mean). All rank prompts by P(strong good) -
P(weak good); the cross-validated APGR of that ranking picks the family.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.decide.learned import SELECTOR_PATH, SelectorModel, embed_texts
from semrouter.eval.routing import routing_metrics

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
HELDOUT = 0.2
VALIDATION = 0.2


class TrainError(ValueError):
    """The outcome file is unusable; the message names the file and line."""


@dataclass
class Outcomes:
    prompts: list[str]
    columns: tuple[str, ...]
    y: F64  # [n, m] 1 = answered well
    groups: list[str]  # subject (or "" without one): what the splits keep together
    rows: list[dict[str, Any]]


def load_outcomes(path: str | Path) -> Outcomes:
    from semrouter.eval.common import EvalError, load_rows

    try:
        rows = load_rows(path)
    except EvalError as exc:
        raise TrainError(str(exc)) from None
    first = rows[0].data
    columns = tuple(k[: -len("_correct")] for k in first if k.endswith("_correct"))
    if not columns:
        raise TrainError(f"{path}:{rows[0].line}: no '<model>_correct' fields")
    prompts, ys, groups = [], [], []
    for r in rows:
        text = r.data.get("prompt", r.data.get("text"))
        if not isinstance(text, str) or not text.strip():
            raise TrainError(f"{path}:{r.line}: missing 'prompt'")
        vals = []
        for c in columns:
            v = r.data.get(f"{c}_correct")
            if not isinstance(v, (bool, int)) or v not in (0, 1):
                raise TrainError(f"{path}:{r.line}: '{c}_correct' must be true/false")
            vals.append(float(v))
        prompts.append(text)
        ys.append(vals)
        groups.append(str(r.data.get("subject", "")))
    return Outcomes(prompts, columns, np.asarray(ys, dtype=np.float64), groups, [r.data for r in rows])


def _h(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def group_split(keys: Sequence[str], fraction: float, salt: str) -> tuple[IntArray, IntArray]:
    """(rest, taken): whole groups sorted by hash, taken until ``fraction`` of the rows."""
    idx_by: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        idx_by.setdefault(k, []).append(i)
    taken: list[int] = []
    for k in sorted(idx_by, key=lambda g: _h(salt + g)):
        if len(taken) >= fraction * len(keys):
            break
        taken += idx_by[k]
    mask = np.zeros(len(keys), dtype=bool)
    mask[taken] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def make_splits(data: Outcomes, split: str = "prompt") -> tuple[IntArray, IntArray, IntArray, str]:
    """(train, validation, held out, how) indices. ``split="subject"`` holds out whole subjects where rows
    carry one (at least 10 of them): the unseen-topic view; ``"prompt"``, a hash of the prompt."""
    by_subject = split == "subject" and all(data.groups) and len(set(data.groups)) >= 10
    keys = data.groups if by_subject else [_h(p) for p in data.prompts]
    rest, held = group_split(keys, HELDOUT, "heldout:")
    sub_train, sub_val = group_split([keys[i] for i in rest], VALIDATION, "validation:")
    how = "whole subjects (held-out subjects are unseen)" if by_subject else "hash of the prompt"
    return rest[sub_train], rest[sub_val], held, how


# ----- families ------------------------------------------------------------------------------------


def fit_logreg(x: F64, y: F64, l2: float, sample_weight: F64 | None = None) -> tuple[F64, float]:
    """L2 logistic regression (bias unpenalised) by L-BFGS; ``y`` in [0, 1]."""
    from scipy.optimize import minimize  # type: ignore[import-untyped, unused-ignore]

    n, d = x.shape
    sw = np.ones(n) if sample_weight is None else sample_weight
    sw = sw / sw.sum()

    def loss_grad(theta: F64) -> tuple[float, F64]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = 1 / (1 + np.exp(-np.clip(z, -40, 40)))
        loss = -np.sum(sw * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))) + 0.5 * l2 * w @ w
        g = sw * (p - y)
        return float(loss), np.concatenate([x.T @ g + l2 * w, [g.sum()]])

    res = minimize(loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d])


def fit_mlp(
    x: F64, y: F64, xv: F64 | None, yv: F64 | None, hidden: int, l2: float, seed: int = 0, epochs: int = 60
) -> tuple[dict[str, F64], int]:
    """One ReLU hidden layer, sigmoid outputs per column, Adam: (weights, epochs run).

    With validation data, the weights of the epoch with the best validation loss (stops after 5 worse
    ones); without, all ``epochs`` (the final refit runs as many as validation chose).
    """
    rng = np.random.default_rng(seed)
    d, m = x.shape[1], y.shape[1]
    params = {
        "w1": rng.normal(0, np.sqrt(2 / d), (d, hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0, np.sqrt(1 / hidden), (hidden, m)),
        "b2": np.log(y.mean(0) / (1 - y.mean(0))),
    }
    mom = {k: np.zeros_like(v) for k, v in params.items()}
    vel = {k: np.zeros_like(v) for k, v in params.items()}
    lr, b1, b2, step = 1e-3, 0.9, 0.999, 0

    def forward(p: dict[str, F64], xb: F64) -> tuple[F64, F64]:
        h = np.maximum(xb @ p["w1"] + p["b1"], 0)
        return h, 1 / (1 + np.exp(-np.clip(h @ p["w2"] + p["b2"], -40, 40)))

    def val_loss(p: dict[str, F64]) -> float:
        if xv is None or yv is None:
            return 0.0
        _, q = forward(p, xv)
        return float(-np.mean(yv * np.log(q + 1e-12) + (1 - yv) * np.log(1 - q + 1e-12)))

    best, best_loss, bad, best_epoch = {k: v.copy() for k, v in params.items()}, val_loss(params), 0, 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for s in range(0, len(x), 128):
            bi = order[s : s + 128]
            xb, yb = x[bi], y[bi]
            h, q = forward(params, xb)
            dz = (q - yb) / len(bi)
            grads = {"w2": h.T @ dz + l2 * params["w2"], "b2": dz.sum(0)}
            dh = (dz @ params["w2"].T) * (h > 0)
            grads["w1"] = xb.T @ dh + l2 * params["w1"]
            grads["b1"] = dh.sum(0)
            step += 1
            for k in params:
                mom[k] = b1 * mom[k] + (1 - b1) * grads[k]
                vel[k] = b2 * vel[k] + (1 - b2) * grads[k] ** 2
                params[k] -= lr * (mom[k] / (1 - b1**step)) / (np.sqrt(vel[k] / (1 - b2**step)) + 1e-8)
        if xv is None:
            best, best_epoch = params, epoch
            continue
        loss = val_loss(params)
        if loss < best_loss - 1e-5:
            best, best_loss, bad, best_epoch = {k: v.copy() for k, v in params.items()}, loss, 0, epoch
        else:
            bad += 1
            if bad >= 5:
                break
    return best, max(1, best_epoch)


def spherical_kmeans(x: F32, y: F64, clusters: int, iterations: int = 15, seed: int = 0) -> tuple[F32, F64, F64]:
    """(unit centroids, mean outcomes per centroid, prompts per centroid): the training prompts summarised,
    so a kNN lookup scans ``clusters`` rows instead of every training prompt (~1 ms -> ~0.1 ms)."""
    rng = np.random.default_rng(seed)
    cent = x[rng.choice(len(x), size=min(clusters, len(x)), replace=False)].astype(np.float32)
    assign = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        assign = np.argmax(x @ cent.T, axis=1)
        for c in range(len(cent)):
            members = x[assign == c]
            if len(members):
                v = members.sum(0)
                cent[c] = v / (np.linalg.norm(v) + 1e-12)
    counts = np.bincount(assign, minlength=len(cent)).astype(np.float64)
    keep = counts > 0
    values = np.stack([y[assign == c].mean(0) for c in np.flatnonzero(keep)])
    return cent[keep], values, counts[keep]


class Trainer:
    """Features once, then every family on the same splits."""

    def __init__(self, data: Outcomes, emb: F32) -> None:
        from semrouter.embed.heads import load_domain_head

        self.data = data
        self.emb = emb.astype(np.float32)
        head = load_domain_head()
        self.domain = (head.weight.astype(np.float32), head.bias.astype(np.float32), float(head.temperature))
        m = len(data.columns)
        probe = self._model("linear", {"w": np.zeros((1, m)), "b": np.zeros(m)})  # mean 0, std 1: raw values
        self.raw_extras = probe.extras(self.emb, data.prompts).astype(np.float64)

    def _model(
        self,
        kind: str,
        params: dict[str, Any],
        mean: F64 | None = None,
        std: F64 | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SelectorModel:
        k = self.domain[0].shape[1] + 6
        return SelectorModel(
            kind=kind,
            columns=self.data.columns,
            params={
                n: np.asarray(v, dtype=np.float32) if n not in ("k",) else np.asarray(v) for n, v in params.items()
            },
            mean=np.zeros(k, np.float32) if mean is None else mean.astype(np.float32),
            std=np.ones(k, np.float32) if std is None else std.astype(np.float32),
            domain_w=self.domain[0],
            domain_b=self.domain[1],
            domain_t=self.domain[2],
            metadata=metadata or {},
        )

    def design(self, rows: IntArray, mean: F64, std: F64) -> F64:
        return np.hstack([self.emb[rows], (self.raw_extras[rows] - mean) / std]).astype(np.float64)

    def fit(self, kind: str, rows: IntArray, val: IntArray | None, hp: dict[str, Any]) -> SelectorModel:
        y = self.data.y[rows]
        mean = self.raw_extras[rows].mean(0)
        std = self.raw_extras[rows].std(0) + 1e-6
        if kind == "knn":
            keys, values, counts = self.emb[rows], y, np.ones(len(rows))
            if hp.get("clusters"):
                keys, values, counts = spherical_kmeans(self.emb[rows], y, int(hp["clusters"]))
            params = {
                "keys": keys,
                "values": values,
                "counts": counts,
                "k": np.int64(min(hp["k"], len(keys))),
                "prior": y.mean(0),
                "strength": np.float32(hp["strength"]),
                "sharpness": np.float32(hp["sharpness"]),
            }
            return self._model("knn", params, mean, std, {"hyperparameters": hp})
        x = self.design(rows, mean, std)
        if kind == "linear":
            ws, bs = [], []
            for j in range(y.shape[1]):
                w, b = fit_logreg(x, y[:, j], hp["l2"])
                ws.append(w)
                bs.append(b)
            params = {"w": np.stack(ws, axis=1), "b": np.asarray(bs)}
            return self._model("linear", params, mean, std, {"hyperparameters": hp})
        if kind == "pairwise":
            si, wi = self.strong_weak()
            keep = y[:, si] != y[:, wi]
            w, b = fit_logreg(x[keep], y[keep, si], hp["l2"])
            params = {
                "w": w[:, None],
                "b": np.asarray([b]),
                "disagree": np.float32(keep.mean()),
                "base": np.asarray([y[:, wi].mean(), y[:, si].mean()]),
            }
            return self._model("pairwise", params, mean, std, {"hyperparameters": hp})
        if kind == "mlp":
            xv = None if val is None else self.design(val, mean, std)
            yv = None if val is None else self.data.y[val]
            p, _ = fit_mlp(x, y, xv, yv, hp["hidden"], hp["l2"], epochs=hp["epochs"])
            return self._model("mlp", dict(p), mean, std, {"hyperparameters": hp})
        raise ValueError(kind)

    def strong_weak(self) -> tuple[int, int]:
        cols = self.data.columns
        return cols.index("strong" if "strong" in cols else cols[-1]), cols.index("weak" if "weak" in cols else cols[0])

    def apgr(self, scores: F64, rows: IntArray) -> dict[str, Any]:
        si, wi = self.strong_weak()
        m = routing_metrics(scores, self.data.y[rows, wi] > 0.5, self.data.y[rows, si] > 0.5)
        return {k: m[k] for k in ("apgr", "cpt50", "cpt80", "oracle_apgr", "weak_accuracy", "strong_accuracy")}

    def score(self, model: SelectorModel, rows: IntArray) -> F64:
        return model.strong_scores_from(self.emb[rows], [self.data.prompts[i] for i in rows])


GRID: dict[str, list[dict[str, Any]]] = {
    "linear": [{"l2": v} for v in (3e-3, 3e-2)],
    "pairwise": [{"l2": v} for v in (3e-2, 1e-1)],
    "mlp": [{"hidden": 64, "l2": 1e-2, "epochs": e} for e in (10, 30)],
    # kNN over k-means centroids: a scan of every training prompt (8k x 384) measured ~1 ms per decision on
    # the loaded 2-core machine, over the 0.3 ms budget, for +0.015 cross-validated APGR (docs/benchmarks.md)
    "knn": [
        {"k": k, "strength": 20.0, "sharpness": 10.0, "clusters": c} for k, c in ((8, 512), (16, 1024), (32, 1024))
    ],
}
FOLDS = 5


def folds_of(keys: Sequence[str], rows: IntArray, k: int = FOLDS) -> list[tuple[IntArray, IntArray]]:
    """``k`` (fit, score) folds over ``rows`` that keep each key (subject) within one fold."""
    uniq = sorted({keys[i] for i in rows}, key=lambda g: _h("fold:" + g))
    fold = {g: j % k for j, g in enumerate(uniq)}
    which = np.asarray([fold[keys[i]] for i in rows])
    return [(rows[which != j], rows[which == j]) for j in range(k)]


def train_selector(
    data_path: str | Path,
    output: str | Path,
    *,
    embedding_cache: str | Path | None = None,
    embeddings: F32 | None = None,
    families: Sequence[str] = ("linear", "pairwise", "mlp", "knn"),
    split: str = "prompt",
    heldout_out: str | Path | None = None,
    progress: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Choose family and settings by grouped cross-validation on the training part, refit each family's
    best on all of it, report every one on held out, save the chosen one."""

    def say(msg: str) -> None:
        if log is not None:
            print(msg, file=log, flush=True)

    data = load_outcomes(data_path)
    if len(data.columns) < 2:
        raise TrainError("a selector needs outcomes for at least two models")
    if "pairwise" in families and len(data.columns) != 2:
        families = [f for f in families if f != "pairwise"]
    train, val, held, how = make_splits(data, split)
    if heldout_out is not None:  # the held-out rows as given, for `semrouter eval routing --data`
        with open(heldout_out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(data.rows[i], ensure_ascii=False) + "\n" for i in sorted(held))
    pool = np.concatenate([train, val])
    by_subject = how.startswith("whole")
    keys = data.groups if by_subject else [_h(p)[:2] for p in data.prompts]
    folds = folds_of(keys, pool)
    say(f"{len(data.prompts)} rows, columns {data.columns}; held out by {how}: {len(pool)} / {len(held)}")
    t0 = time.perf_counter()
    emb = embeddings if embeddings is not None else embed_texts(data.prompts, embedding_cache, progress)
    say(f"embeddings in {time.perf_counter() - t0:.1f} s")
    tr = Trainer(data, emb)
    results: dict[str, Any] = {}
    best: tuple[float, str, dict[str, Any]] | None = None
    for fam in families:
        fam_best: tuple[float, dict[str, Any], list[float]] | None = None
        for grid_hp in GRID[fam]:
            per_fold = []
            for fit_rows, score_rows in folds:
                model = tr.fit(fam, fit_rows, None, dict(grid_hp))
                per_fold.append(tr.apgr(tr.score(model, score_rows), score_rows)["apgr"])
            v = float(np.mean(per_fold))
            say(f"  {fam} {grid_hp}: cross-validated APGR {v:.3f} ({' '.join(f'{x:.2f}' for x in per_fold)})")
            if fam_best is None or v > fam_best[0]:
                fam_best = (v, dict(grid_hp), per_fold)
        assert fam_best is not None
        results[fam] = {"hyperparameters": fam_best[1], "cv_apgr": fam_best[0], "cv_folds": fam_best[2]}
        if best is None or fam_best[0] > best[0]:
            best = (fam_best[0], fam, fam_best[1])
    if best is None:
        raise TrainError("no family to train")
    models: dict[str, SelectorModel] = {}
    for fam, r in results.items():
        models[fam] = tr.fit(fam, pool, None, dict(r["hyperparameters"]))
        r["heldout"] = tr.apgr(tr.score(models[fam], held), held)
        say(f"{fam}: cross-validated APGR {r['cv_apgr']:.3f}, held-out {r['heldout']}")
    chosen = models[best[1]]
    metadata = {
        "kind": best[1],
        "trained_on": Path(data_path).name,
        "data_sha256": hashlib.sha256(Path(data_path).read_bytes()).hexdigest(),
        "rows": {"train": len(pool), "heldout": len(held)},
        "split": how,
        "selection": f"{FOLDS}-fold cross-validation grouped by {'subject' if by_subject else 'prompt hash'}",
        "heldout_subjects": sorted({data.groups[i] for i in held}) if by_subject else None,
        "families": results,
        "embedding": "all-MiniLM-L6-v2 int8 (semrouter.embed)",
    }
    model = SelectorModel(
        kind=chosen.kind,
        columns=chosen.columns,
        params=chosen.params,
        mean=chosen.mean,
        std=chosen.std,
        domain_w=chosen.domain_w,
        domain_b=chosen.domain_b,
        domain_t=chosen.domain_t,
        metadata=metadata,
    )
    model.save(output)
    say(f"kept {best[1]} (cross-validated APGR {best[0]:.3f}); wrote {output}")
    return metadata


def run(args: argparse.Namespace) -> int:
    fams = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in fams if f not in GRID]
    if unknown or not fams:
        print(f"error: unknown families {unknown} (one of {', '.join(GRID)})", file=sys.stderr)
        return 2
    try:
        meta = train_selector(
            args.data,
            args.output or SELECTOR_PATH,
            embedding_cache=args.embedding_cache,
            families=fams,
            split=args.split,
            heldout_out=args.heldout_out,
            log=sys.stderr,
        )
    except (TrainError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.report:
        Path(args.report).write_text(json.dumps(meta, indent=2) + "\n")
    return 0
