"""Train the jailbreak detector (``train_jailbreak``): weighted logistic regression on scipy L-BFGS.

Recipe, and why:

- Features per prompt: the shared embedding (unit vector, scaled by ``EMB_SCALE`` so the one L2 strength
  suits both groups), the hashed n-gram TF-IDF vector (unit vector; idf from the training split only)
  and the pattern flags; see ``semrouter.guards.jailbreak``.
- Validation split: a stratified ``VAL_FRACTION`` of ``data/jailbreak/train.jsonl`` (per label, fixed
  seed, ``semrouter.embed.train.stratified_split``); never the dev set under ``tests/data``, which stays
  an honest gate. The temperature is fitted on it, then the decision threshold is the lowest score that
  keeps the validation false-positive rate at or below ``target_fpr`` (default 1%) on ordinary benign rows
  *and* at or below ``tricky_target_fpr`` (default 3%) on the hard ones (``tricky/*``, ``ours/*``), the
  two budgets of issue 16's targets.
- Class-balanced sample weights, times ``TRICKY_WEIGHT`` for the hand-written tricky benign prompts:
  they are few, but they are exactly the ordinary traffic that reference systems block; times
  ``FAMILY_WEIGHT`` for our attack-family lists (``ours/*``: non-English, fiction framing, pasted
  documents, multi-turn, persona), a few hundred rows each against ~10k English source rows.

Training-only dependencies: ``scipy`` (sparse matrices, L-BFGS). Serving needs numpy only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.embed.train import embed_cached, file_sha256, stratified_split
from semrouter.guards.jailbreak import (
    CONTEXT_CHARS,
    CONTEXT_WEIGHT,
    JAILBREAK_HEAD_PATH,
    N_BUCKETS,
    PATTERN_NAMES,
    WINDOW_TURNS,
    JailbreakDetector,
    featurize,
    sparse_features,
)

VAL_FRACTION = 0.15
VAL_SEED = 11
EMB_SCALE = 2.0
TRICKY_WEIGHT = 6.0
FAMILY_WEIGHT = 3.0
DEFAULT_L2 = 3e-6
F64 = npt.NDArray[np.float64]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """``{"text", "label", "source"}`` JSONL rows (label ``jailbreak`` or ``benign``), with an optional
    ``context``: the earlier user turns of a conversation whose last user turn is ``text``."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        if line.strip():
            r = json.loads(line)
            if r["label"] not in ("jailbreak", "benign"):
                raise ValueError(f"unknown label {r['label']!r}")
            context = r.get("context", [])
            if not isinstance(context, list) or not all(isinstance(t, str) for t in context):
                raise ValueError("context must be a list of strings")
            rows.append({"text": r["text"], "label": r["label"], "source": r.get("source", ""), "context": context})
    return rows


def featurize_rows(
    texts: Sequence[str], contexts: Sequence[Sequence[str]] | None = None
) -> tuple[list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]], npt.NDArray[np.float32]]:
    """Per row (current-turn n-gram ids, context n-gram ids) and the pattern-flag matrix, exactly as
    ``JailbreakDetector.logit`` computes them."""
    ids, flags = [], []
    for i, t in enumerate(texts):
        cur, ctx, f = featurize(t, contexts[i] if contexts is not None else ())
        ids.append((cur, ctx))
        flags.append(f)
    return ids, np.stack(flags)


IdsRow = npt.NDArray[np.int64] | tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
_NO_IDS = np.zeros(0, dtype=np.int64)


def _pair(a: IdsRow) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(current-turn ids, context ids) of a row given as either (other heads pass plain id arrays)."""
    return a if isinstance(a, tuple) else (a, _NO_IDS)


def compute_idf(ids: Sequence[IdsRow]) -> npt.NDArray[np.float32]:
    """Smoothed idf ``log((1+n)/(1+df)) + 1`` over hashed buckets (current-turn and context ids alike)."""
    df = np.zeros(N_BUCKETS, dtype=np.float64)
    for a in ids:
        cur, ctx = _pair(a)
        df[np.unique(np.concatenate([cur, ctx]))] += 1.0
    return (np.log((1.0 + len(ids)) / (1.0 + df)) + 1.0).astype(np.float32)


def design_matrix(
    emb: npt.NDArray[np.float32],
    ids: Sequence[IdsRow],
    flags: Any,
    idf: Any,
) -> Any:
    """Sparse [emb * EMB_SCALE | tfidf (current turn + weighted context) | flags] matrix (CSR)."""
    import scipy.sparse as sp  # type: ignore[import-untyped, unused-ignore]

    rows, cols, vals = [], [], []
    for i, a in enumerate(ids):
        u, v = sparse_features(*_pair(a), idf)
        rows.append(np.full(len(u), i))
        cols.append(u)
        vals.append(v)
    ng = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(ids), N_BUCKETS)
    )
    return sp.hstack([sp.csr_matrix(emb.astype(np.float64) * EMB_SCALE), ng, sp.csr_matrix(flags)]).tocsr()


def fit_binary_logreg(x: Any, y: F64, sw: F64, l2: float, max_iter: int = 400) -> tuple[F64, float]:
    """Weighted binary logistic regression, L2 on weights (not bias), by L-BFGS."""
    from scipy.optimize import minimize  # type: ignore[import-untyped, unused-ignore]

    d = x.shape[1]
    sw = sw / sw.sum()
    xt = x.T.tocsr()

    def loss_grad(theta: F64) -> tuple[float, F64]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        loss = float(np.sum(sw * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * float(w @ w)
        g = sw * (1.0 / (1.0 + np.exp(-z)) - y)
        return loss, np.concatenate([xt @ g + l2 * w, [g.sum()]])

    res = minimize(loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    theta = np.asarray(res.x, dtype=np.float64)
    return theta[:d], float(theta[d])


def fit_temperature(z: F64, y: F64) -> float:
    """Scalar temperature minimising validation NLL of ``sigmoid(z / T)``."""
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped, unused-ignore]

    def nll(log_t: float) -> float:
        s = z / math.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, s) - y * s))

    return float(math.exp(minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded").x))


def threshold_for_fpr(p_benign: F64, target_fpr: float) -> float:
    """Lowest threshold (``p >= thr`` flags) whose false-positive rate on ``p_benign`` is <= target."""
    s = np.sort(p_benign)[::-1]
    k = math.floor(target_fpr * len(s))  # at most k benign scores may reach the threshold
    if k >= len(s):
        return 0.0
    return float(np.nextafter(s[k], 1.0))


def rates(p: F64, y: F64, thr: float) -> dict[str, float]:
    flag = p >= thr
    pos, neg = y == 1, y == 0
    return {
        "recall": round(float(flag[pos].mean()), 4) if pos.any() else float("nan"),
        "fpr": round(float(flag[neg].mean()), 4) if neg.any() else float("nan"),
        "n_pos": int(pos.sum()),
        "n_neg": int(neg.sum()),
    }


def train_jailbreak(
    data_path: str | Path,
    out_path: str | Path | None = JAILBREAK_HEAD_PATH,
    *,
    target_fpr: float = 0.01,
    tricky_target_fpr: float = 0.03,
    l2: float = DEFAULT_L2,
    tricky_weight: float = TRICKY_WEIGHT,
    family_weight: float = FAMILY_WEIGHT,
    extra_paths: Sequence[str | Path] = (),
    service: Any = None,
    embedding_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Train, calibrate, choose the threshold on validation, (if ``out_path``) save; returns the report."""
    t0 = time.perf_counter()
    rows = load_rows(data_path)
    for extra in extra_paths:  # hand-written files kept apart from the rebuilt train.jsonl (same row format)
        rows += load_rows(extra)
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    y_all = np.array([1.0 if lab == "jailbreak" else 0.0 for lab in labels])
    tr, va = stratified_split(labels, VAL_FRACTION, VAL_SEED)

    emb = embed_cached(texts, service, embedding_cache)
    ids, flags = featurize_rows(texts, [r["context"] for r in rows])
    idf = compute_idf([ids[i] for i in tr])
    x = design_matrix(emb, ids, flags, idf)

    y_tr = y_all[tr]
    pos_w = len(y_tr) / (2.0 * max(y_tr.sum(), 1.0))
    neg_w = len(y_tr) / (2.0 * max((1 - y_tr).sum(), 1.0))
    sw = np.where(y_tr == 1, pos_w, neg_w)
    sw *= np.array([tricky_weight if rows[i]["source"].startswith("tricky/") else 1.0 for i in tr])
    sw *= np.array([family_weight if rows[i]["source"].startswith("ours/") else 1.0 for i in tr])

    w, b = fit_binary_logreg(x[tr], y_tr, sw, l2)
    d_emb = emb.shape[1]
    det = JailbreakDetector(
        emb_weight=(w[:d_emb] * EMB_SCALE).astype(np.float32),
        ngram_weight=w[d_emb : d_emb + N_BUCKETS].astype(np.float32),
        idf=idf,
        pattern_weight=w[d_emb + N_BUCKETS :].astype(np.float32),
        bias=b,
    )
    z_va = np.asarray(x[va] @ w + b, dtype=np.float64)
    temp = fit_temperature(z_va, y_all[va])
    p_va = 1.0 / (1.0 + np.exp(-z_va / temp))
    # ordinary and hard (hand-written tricky, ours/*) benign rows get their own false-positive budgets, as
    # the targets do (<= 1% ordinary, <= 3% tricky): one pooled 1% lets the ~10% hard rows set the
    # threshold alone, and which of them land in the split then moves it by a lot
    hard = np.array([rows[i]["source"].startswith(("tricky/", "ours/")) for i in va])
    benign_va = y_all[va] == 0
    thr_ordinary = threshold_for_fpr(p_va[benign_va & ~hard], target_fpr)
    thr_hard = threshold_for_fpr(p_va[benign_va & hard], tricky_target_fpr)
    thr = max(thr_ordinary, thr_hard)

    report: dict[str, Any] = {
        "data": Path(data_path).name,
        "data_sha256": file_sha256(data_path),
        "extra": [Path(x).name for x in extra_paths],
        "extra_sha256": [file_sha256(x) for x in extra_paths],
        "n_rows": len(rows),
        "n_train": len(tr),
        "n_val": len(va),
        "split": {"method": "semrouter.embed.train.stratified_split", "val_fraction": VAL_FRACTION, "seed": VAL_SEED},
        "l2": l2,
        "emb_scale": EMB_SCALE,
        "tricky_weight": tricky_weight,
        "family_weight": family_weight,
        "context": {"turns": WINDOW_TURNS, "chars": CONTEXT_CHARS, "weight": CONTEXT_WEIGHT},
        "target_fpr": target_fpr,
        "tricky_target_fpr": tricky_target_fpr,
        "threshold_ordinary": thr_ordinary,
        "threshold_tricky": thr_hard,
        "validation_ordinary": rates(p_va[~hard], y_all[va][~hard], thr),
        "validation_tricky_fpr": round(float((p_va[benign_va & hard] >= thr).mean()), 4),
        "temperature": round(temp, 4),
        "threshold": thr,
        "validation": rates(p_va, y_all[va], thr),
        "pattern_weight": dict(zip(PATTERN_NAMES, [round(float(v), 3) for v in det.pattern_weight], strict=True)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    det = JailbreakDetector(
        det.emb_weight, det.ngram_weight, idf, det.pattern_weight, b, temp, thr, metadata=dict(report)
    )
    if out_path is not None:
        det.save(out_path)
        report["out"] = str(out_path)
    return report


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """Arguments of ``semrouter train jailbreak`` (for the CLI to delegate here)."""
    ap.add_argument("--data", type=Path, default=Path("data/jailbreak/train.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("jailbreak_head.npz"))
    ap.add_argument("--target-fpr", type=float, default=0.01, help="validation FPR budget, ordinary benign rows")
    ap.add_argument("--tricky-target-fpr", type=float, default=0.03, help="validation FPR budget, hard benign rows")
    ap.add_argument("--l2", type=float, default=DEFAULT_L2)
    ap.add_argument("--embedding-cache", type=Path, default=None, help=".npz cache of embeddings by text SHA-1")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more JSONL files in the same row format")


def run(args: argparse.Namespace) -> int:
    report = train_jailbreak(
        args.data,
        args.out,
        target_fpr=args.target_fpr,
        tricky_target_fpr=args.tricky_target_fpr,
        l2=args.l2,
        extra_paths=args.extra,
        embedding_cache=args.embedding_cache,
    )
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="semrouter train jailbreak", description=__doc__.split("\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
