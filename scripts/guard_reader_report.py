"""Choose the guards' cascade rule on validation rows, then score it on the out-of-source sets (issue 16).

    python scripts/guard_reader_report.py --reader /tmp/reader/reader.int8.onnx --work-dir /tmp/reader \\
        [--write-rule] [--oos [--png docs/img/guard_reader_roc.png]] [--embedding-cache /tmp/guards_emb.npz]

Step 1, validation only (the linear heads' own validation splits, ``scripts/train_guard_reader.py``; the
served int8 model's scores): for each guard, blends ``(1 - w) * linear + w * reader`` for ``w`` in a grid,
each at the lowest threshold within the heads' budgets (1% ordinary, 3% hard benign), each in its exact band
(``Band.exact``: the reader runs only where the blend can fall either way). Of those whose band holds at
most ``--share`` of the ordinary benign rows, the blend whose score ranks the rows best (ROC AUC) wins
(:func:`choose` says why AUC). ``--write-rule`` stores it in the model's metadata.

Step 2 (``--oos``), the chosen rule on ``tests/data/oos/{attacks,harmful}.jsonl``: both guards as the stage
runs them (heads at their shipped thresholds, the blend in its band), per slice, family and language, and the
share of prompts the reader read. ``tests/unit/test_guard_reader_oos.py`` gates the same through the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_guard_reader  # noqa: E402
from guards_oos_report import turns  # noqa: E402

from semrouter.embed.train import embed_cached  # noqa: E402
from semrouter.guards.harmful import HarmfulDetector  # noqa: E402
from semrouter.guards.jailbreak import JailbreakDetector  # noqa: E402
from semrouter.guards.multilingual import rescale  # noqa: E402
from semrouter.guards.reader import MASK, Band, GuardReader, ReaderRule  # noqa: E402

OOS = ROOT / "tests" / "data" / "oos"
HARD = ("jb:tricky/", "jb:ours/", "harm:ours/benign", "harm:jailbreak-data/tricky")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def flags(b: Band, p: np.ndarray, r: np.ndarray, thr: float) -> np.ndarray:
    """``Band.decide`` over arrays."""
    band = (p >= b.lo) & (p < b.hi)
    return np.where(band, (1.0 - b.weight) * p + b.weight * r >= b.threshold, p >= thr)


def _fpr_ok(flag: np.ndarray, y: np.ndarray, hard: np.ndarray, budgets: tuple[float, float]) -> bool:
    ordinary, tricky = (y == 0) & ~hard, (y == 0) & hard
    return bool(flag[ordinary].mean() <= budgets[0] and (not tricky.any() or flag[tricky].mean() <= budgets[1]))


def _lowest(make: Any, ts: np.ndarray, ok: Any) -> Band | None:
    """The band of the lowest threshold in sorted ``ts`` that passes ``ok`` (flags only fall as it rises)."""
    lo, hi = 0, len(ts) - 1
    if hi < 0 or not ok(make(float(ts[hi]))):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(make(float(ts[mid]))):
            hi = mid
        else:
            lo = mid + 1
    return make(float(ts[lo]))


def choose(
    p: np.ndarray,
    r: np.ndarray,
    y: np.ndarray,
    hard: np.ndarray,
    thr: float,
    share: float,
    budgets: tuple[float, float],
) -> dict[str, Any]:
    """The blend for one guard on validation rows (``y`` 1/0): ``(1-w) x + w r`` for ``w`` in a grid, each at
    the lowest threshold within both false-positive budgets, in its exact band (``Band.exact``). Of the blends
    whose band holds at most ``share`` of the ordinary benign rows (the reader's cost), the one whose score
    ranks validation rows best (ROC AUC) wins.

    Why AUC and not recall at the budget: on these rows both models score ~0.994 AUC and the budgets are
    set by a handful of rows, so recall differences between rules are a row or two (one standard error is
    ~0.008); the ranking over all rows is the steadier signal of which blend separates better."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

    ordinary = (y == 0) & ~hard
    best: dict[str, Any] = {"linear_recall": float((p[y == 1] >= thr).mean()), "linear_auc": roc_auc_score(y, p)}
    for w in (0.2, 0.35, 0.5, 0.65, 0.8):
        s = (1 - w) * p + w * r

        def ok(b: Band) -> bool:
            return _fpr_ok(flags(b, p, r, thr), y, hard, budgets)

        b = _lowest(lambda t, w=w: Band.exact(w, t, thr), np.unique(s[s >= 0.05]), ok)
        if b is None:
            continue
        flag = flags(b, p, r, thr)
        band = (p >= b.lo) & (p < b.hi)
        res = {
            "lo": b.lo,
            "hi": b.hi,
            "weight": b.weight,
            "threshold": b.threshold,
            "auc": float(roc_auc_score(y, s)),
            "recall": float(flag[y == 1].mean()),
            "fpr_ordinary": float(flag[ordinary].mean()),
            "fpr_hard": float(flag[(y == 0) & hard].mean()) if ((y == 0) & hard).any() else 0.0,
            "share_ordinary": float(band[ordinary].mean()),
            "share_all": float(band.mean()),
        }
        print(json.dumps(res))
        if res["share_ordinary"] <= share + 1e-9 and res["auc"] > best.get("auc", -1.0):
            best |= res
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reader", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--share", type=float, default=0.10, help="ordinary benign validation rows the reader may see")
    ap.add_argument("--embedding-cache", type=Path, default=None)
    ap.add_argument("--write-rule", action="store_true")
    ap.add_argument("--oos", action="store_true", help="step 2: score the out-of-source sets with the rule")
    ap.add_argument("--png", type=Path, default=None, help="with --oos: ROC of heads, reader and blend (PNG)")
    args = ap.parse_args(argv)
    jb, hd = JailbreakDetector.load(), HarmfulDetector.load()
    z = np.load(args.work_dir / "scores.npz")
    src = [str(s) for s in z["source"]]
    texts = [str(t) for t in z["text"]]
    emb = embed_cached(texts, None, args.embedding_cache)
    hard = np.array([s.startswith(HARD) for s in src])
    reader = GuardReader(args.reader)
    # the served (int8) model's scores, not the training run's fp32 ones: the rule must fit what ships
    val_rows = [r for r in train_guard_reader.rows() if r[5] == "val"]
    contexts = [r[1] for r in val_rows]
    assert len(contexts) == len(texts)
    cached = args.work_dir / "val_onnx_logits.npy"
    if cached.exists() and np.load(cached).shape == (len(texts), 2):
        logits = np.load(cached)
    else:
        logits = np.array([reader.logits(t, c) for t, c in zip(texts, contexts, strict=True)])
        np.save(cached, logits)
    rule: dict[str, Any] = {}
    # attack: the jailbreak files' validation rows, with their earlier turns as both models read them
    is_jb = np.array([s.startswith("jb:") for s in src])
    p_att = np.array(
        [jb.score(t, e, c)[0] if j else 0.0 for t, e, c, j in zip(texts, emb, contexts, is_jb, strict=True)]
    )
    y_att = z["attack"]
    m = is_jb & (y_att != MASK)
    rule["attack"] = choose(p_att[m], sigmoid(logits[m, 0]), y_att[m], hard[m], jb.threshold, args.share, (0.01, 0.03))
    # harmful: the harmful files' validation rows; the head's score against its top category's threshold,
    # read as a margin so one band serves every category
    is_h = ~is_jb
    res = [hd.detect(t, e) if h else None for t, e, h in zip(texts, emb, is_h, strict=True)]
    marg = np.array([0.5 + (x.score - x.threshold) if x is not None else 0.0 for x in res])
    y_h = z["harmful"]
    m = is_h & (y_h != MASK)
    rule["harmful"] = choose(marg[m], sigmoid(logits[m, 1]), y_h[m], hard[m], 0.5, args.share, (0.01, 0.03))
    print(json.dumps(rule, indent=2))
    if args.write_rule:
        ReaderRule.from_report(rule).write(args.reader)
    if args.oos:
        oos(reader, ReaderRule.from_report(rule), jb, hd, args.embedding_cache, args.png)
    return 0


def oos(
    reader: GuardReader,
    rule: ReaderRule,
    jb: JailbreakDetector,
    hd: HarmfulDetector,
    cache: Path | None,
    png: Path | None,
) -> None:
    """Both guards, linear alone and with the reader in its band, on both out-of-source sets; with ``png``, the
    ROC of each guard pair's score (the larger of the two guards', each on the scale its band is set on) for
    the heads, the reader alone and their even blend, with both operating points."""
    out: dict[str, dict[str, list[bool]]] = {"linear": {}, "cascade": {}, "reader_calls": {}}
    curves: dict[str, list[float]] = {"heads": [], "reader": [], "blend": [], "positive": []}
    for name in ("attacks", "harmful"):
        rows = [json.loads(x) for x in (OOS / f"{name}.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()]
        tt = [turns(r) for r in rows]
        emb = embed_cached([t for t, _ in tt], None, cache)
        for r, (text, context), e in zip(rows, tt, emb, strict=True):
            p = jb.score(text, e, context)[0]
            h = hd.detect(text, e)
            lin = p >= jb.threshold or h.detected
            called = rule.attack.covers(p) or rule.harmful.covers(0.5 + h.score - h.threshold)
            if called or png is not None:
                a_z, h_z = reader.logits(text, context)
                # each head on a scale where its threshold is 0.5, so the larger one says whether either flags
                heads = max(rescale(p, jb.threshold, 0.5), min(1.0, max(0.0, 0.5 + h.score - h.threshold)))
                read = float(sigmoid(np.array(max(a_z, h_z))))
                for k, v in (("heads", heads), ("reader", read), ("blend", (heads + read) / 2)):
                    curves[k].append(v)
                curves["positive"].append(r["label"] != "benign")
            if called:
                att = rule.attack.decide(p, jb.threshold, float(sigmoid(np.array(a_z))))
                harm = rule.harmful.decide(0.5 + h.score - h.threshold, 0.5, float(sigmoid(np.array(h_z))))
                cas = att or harm
            else:
                cas = lin
            if r["label"] == "benign":
                keys = [
                    f"{'tricky' if r.get('tricky') else 'ordinary'} benign ({name})",
                    f"all {'tricky' if r.get('tricky') else 'ordinary'} benign",
                ]
            else:
                keys = [
                    f"caught ({name})",
                    "all caught",
                    f"lang {r.get('language', 'en')}",
                    f"family {r.get('family') or r.get('category')}",
                    f"source {str(r.get('source', '')).split('/')[0]}",
                ]
                if r.get("language", "en") != "en":
                    keys.append("all non-English caught")
            for k in keys:
                out["linear"].setdefault(k, []).append(bool(lin))
                out["cascade"].setdefault(k, []).append(bool(cas))
                out["reader_calls"].setdefault(k, []).append(bool(called))
    if png is not None:
        plot(curves, out, png)
    print("| slice | n | linear | with reader | reader ran |")
    print("|---|---|---|---|---|")
    for k in sorted(out["linear"], key=lambda k: (not k.startswith("all"), k)):
        cells = " | ".join(f"{np.mean(out[c][k]):.3f}" for c in ("linear", "cascade", "reader_calls"))
        print(f"| {k} | {len(out['linear'][k])} | {cells} |")


def plot(curves: dict[str, list[float]], out: dict[str, dict[str, list[bool]]], png: Path) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve  # type: ignore[import-untyped, unused-ignore]

    from semrouter.eval.report import roc_plot

    y = np.array(curves["positive"])
    lines = {}
    for k in ("heads", "reader", "blend"):
        fpr, tpr, _ = roc_curve(y, curves[k])
        lines[f"{k} (AUC {roc_auc_score(y, curves[k]):.3f})"] = (list(fpr), list(tpr))
    benign = out["linear"]["all ordinary benign"] + out["linear"]["all tricky benign"]
    benign_c = out["cascade"]["all ordinary benign"] + out["cascade"]["all tricky benign"]
    points = {
        "heads at their thresholds": (float(np.mean(benign)), float(np.mean(out["linear"]["all caught"]))),
        "shipped cascade": (float(np.mean(benign_c)), float(np.mean(out["cascade"]["all caught"]))),
    }
    fig = roc_plot(lines, "attacks + harmful, out of source (either guard)", points, "benign flagged (all)")
    ax = fig.axes[0]
    ax.set_xlim(-0.005, 0.2)
    ax.set_ylim(0.4, 1.005)
    fig.savefig(png, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    sys.exit(main())
