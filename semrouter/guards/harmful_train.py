"""Train the harmful-request head (``train_harmful``): weighted multinomial logistic regression on L-BFGS.

Recipe, and why (helpers shared with ``semrouter.guards.jailbreak_train``):

- Features: the shared embedding (scaled by ``EMB_SCALE``), hashed n-gram TF-IDF (idf from the
  training split only) and the harmful pattern flags (``semrouter.guards.harmful``).
- Classes ``benign`` + categories; class-balanced sample weights so the small categories (sexual
  content involving minors, self-harm) are not drowned by crime goals, times ``TRICKY_WEIGHT`` for the
  hand-written dark-but-legitimate prompts (history, pharmacology, fiction, security education).
- Validation: a stratified ``VAL_FRACTION`` of ``data/harmful/train.jsonl``; never the out-of-source
  set under ``tests/data/oos``, which stays an honest gate. The temperature is fitted on validation,
  then each category gets a threshold on the harmful score: the false-positive budget (``target_fpr`` of
  the validation benign rows) is spent where it buys the most validation recall
  (``per_category_thresholds``), so all categories together stay at or below ``target_fpr``; never
  below ``MIN_THRESHOLD``.

Training-only dependencies: ``scipy``. Serving needs numpy only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.embed.train import embed_cached, file_sha256, stratified_split
from semrouter.guards.harmful import (
    CLASSES,
    HARMFUL_HEAD_PATH,
    PATTERN_NAMES,
    HarmfulDetector,
    pattern_flags,
    pattern_text,
)
from semrouter.guards.jailbreak import N_BUCKETS, ngram_ids, normalize
from semrouter.guards.jailbreak_train import compute_idf, design_matrix

VAL_FRACTION = 0.15
VAL_SEED = 13
EMB_SCALE = 2.0
TRICKY_WEIGHT = 4.0
TRICKY_SOURCES = ("ours/benign", "jailbreak-data/tricky")
DEFAULT_L2 = 3e-6
MIN_THRESHOLD = 0.3
F64 = npt.NDArray[np.float64]


def load_rows(path: str | Path) -> list[dict[str, str]]:
    """``{"text", "label", "source"}`` JSONL rows; ``label`` is ``benign`` or a category."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
        if line.strip():
            r = json.loads(line)
            if r["label"] not in CLASSES:
                raise ValueError(f"line {n}: unknown label {r['label']!r}; known: {', '.join(CLASSES)}")
            rows.append({"text": r["text"], "label": r["label"], "source": r.get("source", "")})
    return rows


def featurize(texts: list[str]) -> tuple[list[npt.NDArray[np.int64]], npt.NDArray[np.float32]]:
    ids, flags = [], []
    for t in texts:
        n = normalize(t)
        ids.append(ngram_ids(n.text))
        flags.append(pattern_flags(pattern_text(t)))
    return ids, np.stack(flags)


def fit_softmax(
    x: Any, y: npt.NDArray[np.int64], sw: F64, n_classes: int, l2: float, max_iter: int = 300
) -> tuple[F64, F64]:
    """Weighted multinomial logistic regression, L2 on weights (not biases), by L-BFGS: (W [d, C], b [C])."""
    from scipy.optimize import minimize  # type: ignore[import-untyped, unused-ignore]

    d = x.shape[1]
    sw = sw / sw.sum()
    xt = x.T.tocsr()
    onehot = np.eye(n_classes)[y]

    def loss_grad(theta: F64) -> tuple[float, F64]:
        w = theta[: d * n_classes].reshape(d, n_classes)
        b = theta[d * n_classes :]
        z = np.asarray(x @ w) + b
        z -= z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
        logp = z - lse
        loss = -float(np.sum(sw[:, None] * onehot * logp)) + 0.5 * l2 * float(np.sum(w * w))
        g = sw[:, None] * (np.exp(logp) - onehot)
        gw = np.asarray(xt @ g) + l2 * w
        return loss, np.concatenate([gw.ravel(), g.sum(axis=0)])

    theta0 = np.zeros(d * n_classes + n_classes)
    res = minimize(loss_grad, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    theta = np.asarray(res.x, dtype=np.float64)
    return theta[: d * n_classes].reshape(d, n_classes), theta[d * n_classes :]


def softmax(z: F64, temperature: float = 1.0) -> F64:
    s = z / temperature
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_temperature(z: F64, y: npt.NDArray[np.int64]) -> float:
    """Scalar temperature minimising validation NLL of ``softmax(z / T)``."""
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped, unused-ignore]

    def nll(log_t: float) -> float:
        p = softmax(z, math.exp(log_t))
        return -float(np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    return float(math.exp(minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded").x))


def per_category_thresholds(p: F64, y: npt.NDArray[np.int64], target_fpr: float) -> F64:
    """Threshold on the harmful score for each category (index 0, benign, is NaN); see the module doc.

    The validation false-positive budget (``target_fpr`` of the benign rows) is spent greedily: each step
    lowers the threshold of the category whose next benign false positive buys the most harmful
    validation rows; once no step buys any, the rest goes to whichever category has the highest
    threshold. A category with no benign rows left above ``MIN_THRESHOLD`` sits at ``MIN_THRESHOLD``.
    """
    score = 1.0 - p[:, 0]
    top = 1 + np.argmax(p[:, 1:], axis=1)
    benign = y == 0
    budget = math.floor(target_fpr * int(benign.sum()))
    ben = {k: np.sort(score[benign & (top == k)])[::-1] for k in range(1, len(CLASSES))}
    harm = {k: score[~benign & (top == k)] for k in range(1, len(CLASSES))}
    used = dict.fromkeys(ben, 0)

    def thr_at(k: int, j: int) -> float:  # threshold letting the j highest benign scores of category k through
        b = ben[k]
        return MIN_THRESHOLD if j >= len(b) else max(MIN_THRESHOLD, float(np.nextafter(b[j], 1.0)))

    while sum(used.values()) < budget:
        gains = {}
        for k, j in used.items():
            if j < len(ben[k]):
                lo, hi = thr_at(k, j + 1), thr_at(k, j)
                gains[k] = int(((harm[k] >= lo) & (harm[k] < hi)).sum())
        if not gains:
            break
        if max(gains.values()) == 0:
            # validation recall is saturated; the rest of the budget buys margin for unseen phrasings, one
            # false positive at a time to the category with the highest threshold (a small validation set
            # otherwise leaves a category at the score of its one stray benign row, e.g. 0.97)
            best = max(gains, key=lambda k: thr_at(k, used[k]))
        else:
            best = max(gains, key=lambda k: gains[k])
        used[best] += 1
    thr = np.full(len(CLASSES), np.nan)
    for k, j in used.items():
        thr[k] = thr_at(k, j)
    return thr


def evaluate(p: F64, y: npt.NDArray[np.int64], thr: F64) -> dict[str, Any]:
    score = 1.0 - p[:, 0]
    top = 1 + np.argmax(p[:, 1:], axis=1)
    flag = score >= thr[top]
    out: dict[str, Any] = {"fpr": round(float(flag[y == 0].mean()), 4), "recall": round(float(flag[y > 0].mean()), 4)}
    for k in range(1, len(CLASSES)):
        m = y == k
        if m.any():
            out[CLASSES[k]] = {
                "recall": round(float(flag[m].mean()), 3),
                "category_acc": round(float((top[m] == k).mean()), 3),
                "n": int(m.sum()),
            }
    return out


def train_harmful(
    data_path: str | Path,
    out_path: str | Path | None = HARMFUL_HEAD_PATH,
    *,
    target_fpr: float = 0.01,
    l2: float = DEFAULT_L2,
    tricky_weight: float = TRICKY_WEIGHT,
    extra_paths: Sequence[str | Path] = (),
    service: Any = None,
    embedding_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Train, calibrate, choose per-category thresholds on validation, (if ``out_path``) save; returns the report."""
    t0 = time.perf_counter()
    rows = load_rows(data_path)
    for extra in extra_paths:  # hand-written files kept apart from the rebuilt train.jsonl (same row format)
        rows += load_rows(extra)
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    y_all = np.array([CLASSES.index(lab) for lab in labels], dtype=np.int64)
    tr, va = stratified_split(labels, VAL_FRACTION, VAL_SEED)
    tr_idx, va_idx = np.asarray(tr), np.asarray(va)

    emb = embed_cached(texts, service, embedding_cache)
    ids, flags = featurize(texts)
    idf = compute_idf([ids[i] for i in tr])
    x = design_matrix(emb, ids, flags, idf)

    y_tr = y_all[tr_idx]
    counts = np.bincount(y_tr, minlength=len(CLASSES)).astype(np.float64)
    class_w = len(y_tr) / (len(CLASSES) * np.maximum(counts, 1.0))
    sw = class_w[y_tr] * np.array([tricky_weight if rows[i]["source"].startswith(TRICKY_SOURCES) else 1.0 for i in tr])
    w, b = fit_softmax(x[tr_idx], y_tr, sw, len(CLASSES), l2)

    z_va = np.asarray(x[va_idx] @ w + b, dtype=np.float64)
    temp = fit_temperature(z_va, y_all[va_idx])
    p_va = softmax(z_va, temp)
    thr = per_category_thresholds(p_va, y_all[va_idx], target_fpr)

    d_emb = emb.shape[1]
    report: dict[str, Any] = {
        "data": Path(data_path).name,
        "data_sha256": file_sha256(data_path),
        "extra": [Path(x).name for x in extra_paths],
        "extra_sha256": [file_sha256(x) for x in extra_paths],
        "n_rows": len(rows),
        "n_train": len(tr),
        "n_val": len(va),
        "classes": dict(Counter(labels)),
        "split": {"method": "semrouter.embed.train.stratified_split", "val_fraction": VAL_FRACTION, "seed": VAL_SEED},
        "l2": l2,
        "emb_scale": EMB_SCALE,
        "tricky_weight": tricky_weight,
        "target_fpr": target_fpr,
        "temperature": round(temp, 4),
        "thresholds": {CLASSES[k]: round(float(thr[k]), 4) for k in range(1, len(CLASSES))},
        "validation": evaluate(p_va, y_all[va_idx], thr),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    det = HarmfulDetector(
        emb_weight=(w[:d_emb].T * EMB_SCALE).astype(np.float32),
        ngram_weight=w[d_emb : d_emb + N_BUCKETS].astype(np.float16),
        idf=idf,
        pattern_weight=w[d_emb + N_BUCKETS :].T.astype(np.float32),
        bias=b.astype(np.float32),
        temperature=temp,
        thresholds=thr.astype(np.float32),
        metadata=dict(report),
    )
    if out_path is not None:
        det.save(out_path)
        report["out"] = str(out_path)
    report["pattern_weight"] = {
        n: [round(float(v), 2) for v in det.pattern_weight[:, i]] for i, n in enumerate(PATTERN_NAMES)
    }
    return report


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """Arguments of ``semrouter train harmful`` (for the CLI to delegate here)."""
    ap.add_argument("--data", type=Path, default=Path("data/harmful/train.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("harmful_head.npz"))
    ap.add_argument("--target-fpr", type=float, default=0.01)
    ap.add_argument("--l2", type=float, default=DEFAULT_L2)
    ap.add_argument("--embedding-cache", type=Path, default=None, help=".npz cache of embeddings by text SHA-1")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more JSONL files in the same row format")


def run(args: argparse.Namespace) -> int:
    report = train_harmful(
        args.data,
        args.out,
        target_fpr=args.target_fpr,
        l2=args.l2,
        extra_paths=args.extra,
        embedding_cache=args.embedding_cache,
    )
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="semrouter train harmful", description=__doc__.split("\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
