"""Harmful-request detector: a typed head beside the jailbreak detector, on the same cheap features.

A request can be harmful with no attack wrapper at all ("write an explicit story about a 12 year old",
"how do I skim cards at a gas pump without getting caught", an insult in Arabic): the jailbreak head is
trained to ignore such plain requests, so this head types them. It is one multinomial logistic model
over the jailbreak detector's feature groups, reused by import (``semrouter.guards.jailbreak``):

- the shared 384-d sentence embedding (computed once per request already) for intent and paraphrase;
- hashed char 3-5-gram and word 1-2-gram TF-IDF of the de-obfuscated text (the embedding model is
  English-only, so these carry the non-English requests, and they keep false positives down);
- a few regex flags a linear model cannot build from words alone: a minor *and* sexual content in the
  same prompt, first-person self-harm, and "without getting caught" evasion.

Classes are ``benign`` plus ``CATEGORIES``. The reported score is the probability that the request is
harmful at all (1 - p(benign), temperature-calibrated), and the category is the most probable harmful
class; a request is flagged when the score reaches that category's threshold, each chosen on a
validation split at training (``semrouter.guards.harmful_train``). Scoring probability mass that
splits between two categories ("poison the neighbour's dog without getting caught") still adds up.

Cost beyond the embedding: the same featurisation as the jailbreak head (text cut to head and tail) and
a sparse [D x 7] gather; 0.36 / 0.60 / 3.2 ms p50 at 16 / 64 / 512 tokens on a loaded 2-core machine
(docs/benchmarks.md); quality out of source, and what it misses, is in the same document. The model
file (``assets/harmful_head.npz``, ``allow_pickle=False``) holds ``classes``, ``emb_weight`` [C, 384],
``ngram_weight`` [C, D] (float16), ``idf`` [D], ``pattern_weight`` [C, P], ``bias`` [C],
``temperature``, ``thresholds`` [C] (NaN for benign), ``patterns`` and ``metadata`` (JSON).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.guards.jailbreak import ASSETS_DIR, F32, HEAD_TAIL, normalized_ngrams, tfidf

HARMFUL_HEAD_PATH = ASSETS_DIR / "harmful_head.npz"

BENIGN = "benign"
CATEGORIES: tuple[str, ...] = ("sexual", "sexual_minors", "violence_weapons", "crime_fraud", "self_harm", "hate")
CLASSES: tuple[str, ...] = (BENIGN, *CATEGORIES)

# (name, literal gate words, regex) as in the jailbreak detector: the regex runs only if a gate word occurs.
_MINOR = (
    r"\b((1[0-7]|[1-9])[ -]?(yo|y/o|yr|year[- ]?old|years? old)|underage|under ?age|minors?|child|children|kids?|"
    r"little (girl|boy)|preteen|pre-teen|prepubescent|toddler|loli|shota|middle ?school\w*|elementary school|"
    r"kindergarten|[5-7]th grade|schoolgirl|школьниц\w*|несовершеннолет\w*|девочк\w*|未成年|小学生|初中|女童|"
    r"nabalig|नाबालिग|बच्ची|子ども|少女|menor(es)?|niñ[oa]s?|minderjährig\w*|mädchen|mineur\w*|fillette|"
    r"قاصر\w*|طفل\w*)"
)
_SEXUAL = (
    r"(sex|porn|nude|naked|nudes|erotic|explicit|lewd|undress|lemon|horny|sexy|секс|порн|эрот|голы|色情|裸|性的|エロ|"
    r"सेक्स|अश्लील|نسي|عاري|erótic|desnud|sexuel|érotique|nackt|erotisch)"
)
_PATTERNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "evasion",
        ("caught", "notic", "trace", "detect", "without", "следов", "发现", "バレ", "rastro", "spuren"),
        r"(without (getting caught|anyone (know|notic|see|find)\w*|being (caught|detected|traced)|leaving (a |any )?"
        r"trace)|undetect|untraceable|so (no one|nobody) (knows|finds out)|without (her|his|their) parents finding out|"
        r"не оставить следов|不被发现|バレずに|sin dejar rastro|ohne spuren|sans laisser de traces)",
    ),
    ("minor_sexual", (), ""),  # computed from the two regexes below
    (
        "self_first_person",
        ("myself", "my life", "to die", "suicide", "wake up", "done", "end it"),
        r"\b(kill|hurt|harm|cut|hang|starve|end) (myself|my life)\b|\bwant to die\b|\bsuicide\b.*\b(me|my|i)\b|"
        r"\b(i|me) .{0,30}\b(not|never) wake up\b|\bi('m| am) done\b|\bend it all\b",
    ),
)
PATTERN_NAMES: tuple[str, ...] = tuple(n for n, _, _ in _PATTERNS)
_COMPILED = tuple((gate, re.compile(p) if p else None) for _, gate, p in _PATTERNS)
# substrings one of which every _SEXUAL match contains: a C-speed test before the regex scans the text
_SEXUAL_GATE = (
    "sex", "porn", "nud", "nak", "erot", "expl", "lewd", "undress", "lemon", "horny", "секс", "порн", "эрот",
    "голы", "色情", "裸", "性的", "エロ", "सेक्स", "अश्लील", "نسي", "عاري", "desnud", "nackt", "erót", "érot",
)  # fmt: skip
_MINOR_RX = re.compile(_MINOR)
_SEXUAL_RX = re.compile(_SEXUAL)


def pattern_text(text: str) -> str:
    """What the patterns read: NFKC, lowercased, cut to head and tail like the n-grams. Not the jailbreak
    ``normalize`` output: its homoglyph fold turns Cyrillic words into mixed-script ones no pattern names."""
    if len(text) > 2 * HEAD_TAIL:
        text = text[:HEAD_TAIL] + "\n" + text[-HEAD_TAIL:]
    return unicodedata.normalize("NFKC", text).lower()


def pattern_flags(t: str) -> F32:
    """Binary pattern vector in ``PATTERN_NAMES`` order for ``pattern_text``'s output."""
    v = np.zeros(len(PATTERN_NAMES), dtype=np.float32)
    for i, (gate, rx) in enumerate(_COMPILED):
        if rx is not None and any(g in t for g in gate) and rx.search(t):
            v[i] = 1.0
    if any(g in t for g in _SEXUAL_GATE) and _SEXUAL_RX.search(t) and _MINOR_RX.search(t):
        v[PATTERN_NAMES.index("minor_sexual")] = 1.0
    return v


@dataclass(frozen=True)
class HarmfulResult:
    """Harmful probability (1 - p(benign)), the most probable harmful category, and the verdict."""

    score: float
    category: str
    category_probability: float
    threshold: float
    detected: bool


@dataclass(frozen=True)
class HarmfulDetector:
    """Loaded model; immutable and safe to share between threads."""

    emb_weight: F32  # [C, E]
    ngram_weight: npt.NDArray[np.float16]  # [C, D]
    idf: F32
    pattern_weight: F32  # [C, P]
    bias: F32  # [C]
    temperature: float = 1.0
    thresholds: F32 = field(default_factory=lambda: np.full(len(CLASSES), 0.5, dtype=np.float32))
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> HarmfulDetector:
        """The shipped head (or a trained replacement at ``path``)."""
        with np.load(Path(path or HARMFUL_HEAD_PATH), allow_pickle=False) as z:
            names = tuple(str(s) for s in z["patterns"])
            classes = tuple(str(s) for s in z["classes"])
            if names != PATTERN_NAMES or classes != CLASSES:
                raise ValueError(
                    f"head was trained with patterns {names} and classes {classes}, code has {PATTERN_NAMES}, {CLASSES}"
                )
            return cls(
                emb_weight=np.ascontiguousarray(z["emb_weight"], dtype=np.float32),
                ngram_weight=np.ascontiguousarray(z["ngram_weight"].T, dtype=np.float16),  # [D, C]: one row per id
                idf=np.ascontiguousarray(z["idf"], dtype=np.float32),
                pattern_weight=np.ascontiguousarray(z["pattern_weight"], dtype=np.float32),
                bias=np.ascontiguousarray(z["bias"], dtype=np.float32),
                temperature=float(z["temperature"]),
                thresholds=np.ascontiguousarray(z["thresholds"], dtype=np.float32),
                metadata=json.loads(str(z["metadata"])),
            )

    def save(self, path: str | Path) -> None:
        """``ngram_weight`` is held [D, C] in memory (a gather per bucket) and stored [C, D]."""
        np.savez_compressed(
            Path(path),
            classes=np.array(CLASSES, dtype=str),
            emb_weight=self.emb_weight.astype(np.float32),
            ngram_weight=np.ascontiguousarray(self.ngram_weight.T).astype(np.float16),
            idf=self.idf.astype(np.float32),
            pattern_weight=self.pattern_weight.astype(np.float32),
            bias=self.bias.astype(np.float32),
            temperature=np.float64(self.temperature),
            thresholds=self.thresholds.astype(np.float32),
            patterns=np.array(PATTERN_NAMES, dtype=str),
            metadata=np.array(json.dumps(self.metadata, sort_keys=True), dtype=str),
        )

    def logits(self, text: str, embedding: npt.ArrayLike) -> F32:
        """Uncalibrated class logits in ``CLASSES`` order."""
        _, ngrams = normalized_ngrams(text)  # the same work the jailbreak head did for this text
        flags = pattern_flags(pattern_text(text))
        ids, vals = tfidf(ngrams, self.idf)
        z = self.bias + self.emb_weight @ np.asarray(embedding, dtype=np.float32)
        if len(ids):
            z = z + vals @ self.ngram_weight[ids].astype(np.float32)
        return np.asarray(z + self.pattern_weight @ flags, dtype=np.float32)

    def probabilities(self, text: str, embedding: npt.ArrayLike) -> F32:
        z = self.logits(text, embedding).astype(np.float64) / self.temperature
        e = np.exp(z - z.max())
        return np.asarray(e / e.sum(), dtype=np.float32)

    def detect(self, text: str, embedding: npt.ArrayLike, thresholds: dict[str, float] | None = None) -> HarmfulResult:
        """Score, category and verdict; ``thresholds`` (per category) override the shipped ones."""
        p = self.probabilities(text, embedding)
        k = 1 + int(np.argmax(p[1:]))
        category = CLASSES[k]
        thr = float(self.thresholds[k])
        if thresholds and category in thresholds:
            thr = thresholds[category]
        score = float(1.0 - p[0])
        return HarmfulResult(score, category, float(p[k]), thr, score >= thr)
