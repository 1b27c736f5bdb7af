"""Jailbreak / prompt-injection detector: one logistic model over three cheap feature groups.

Why three groups (measured on the dev set, see ``bench/jailbreak.py``):

- the shared sentence embedding (384-d, already computed once per request by the pipeline) carries the
  *intent* of a prompt and generalises to paraphrases, but alone it flags many benign prompts that merely
  talk about rules, roles or security;
- hashed character 3-5-gram and word 1-2-gram TF-IDF features (pure numpy, a stable hash, no sklearn)
  catch the lexical fingerprints of attacks (``ignore all previous``, ``DAN mode``, ``I have been PWNED``)
  and, trained with in-domain benign negatives, keep the false-positive rate low;
- a handful of regex pattern flags (persona override, instruction override, system-prompt extraction,
  developer mode, encoded payload) that also name the coarse attack *type* returned to the caller.

Before featurising, text is de-obfuscated: NFKC (full-width letters), Cyrillic/Greek homoglyphs folded to
Latin, zero-width characters removed, leetspeak words and base64 blobs decoded and appended. Only the
first and last ``HEAD_TAIL`` characters are read, so cost is bounded for pasted documents while an
injection appended at the end is still seen.

Conversations: an attack is often built up over several user turns (a persona or a rule set up first, the
request last), and each turn alone looks mild. ``context`` (the earlier user turns, oldest first) adds a
fourth group: hashed n-grams of a bounded window (the last ``WINDOW_TURNS - 1`` earlier turns, at most
``CONTEXT_CHARS`` each) in their own hash space (salted), so context n-grams have their own weights, scaled
by ``CONTEXT_WEIGHT``. The verdict is about the newest turn *read in its context*: an attack in an earlier
turn followed by an unrelated request is not re-flagged (that turn was checked when it was new), while a
request that continues a set-up is. The embedding stays the current turn's (the pipeline's), so the
window costs no second embedding, only hashing of at most ~1,800 more characters.

Scoring cost beyond the embedding is ~0.1-0.3 ms (numpy hashing of at most 2x``HEAD_TAIL`` chars and a
sparse dot product). The model file (``assets/jailbreak_head.npz``, ``allow_pickle=False``) holds:
``emb_weight`` [384], ``ngram_weight`` [D], ``idf`` [D], ``pattern_weight`` [P], ``bias``,
``temperature``, ``threshold`` (chosen on a validation split for a target false-positive rate),
``patterns`` (names, checked against the code) and ``metadata`` (JSON).
"""

# ruff: noqa: RUF001  (homoglyph table and non-English prompts are deliberate)
from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
JAILBREAK_HEAD_PATH = ASSETS_DIR / "jailbreak_head.npz"

N_BUCKETS = 1 << 18
HEAD_TAIL = 1500
CHAR_NGRAMS = (3, 4, 5)
MAX_WORDS = 300
WINDOW_TURNS = 4  # the current user turn and up to three earlier ones
CONTEXT_CHARS = 600  # each earlier turn contributes its first and last CONTEXT_CHARS / 2 characters
CONTEXT_WEIGHT = 0.5  # context tf-idf vector (unit length) scaled against the current turn's
CONTEXT_SALT = 0x9E3779B97F4A7C15  # xor-ed into context n-gram hashes: their own buckets and weights

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

# ---------------------------------------------------------------- normalisation / de-obfuscation

_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
        "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
        # zero-width and soft hyphen
        "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
# Lookbehinds anchor each candidate at a token start so scanning stays linear in the text length.
_LEET_HINT = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
_LEET_WORD = re.compile(r"(?<![\w@$!])[a-z0-9@$!]{4,}")
_B64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}\s?){12,}")
_WORD = re.compile(r"\w+")


def _decode_b64(blob: str) -> str | None:
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        s = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(c.isprintable() or c.isspace() for c in s)
    letters = sum(c.isalpha() for c in s)
    return s if s and printable / len(s) > 0.95 and letters / len(s) > 0.5 and " " in s else None


@dataclass(frozen=True)
class Normalized:
    """De-obfuscated lowercase text plus what was decoded (for the ``encoded`` flag)."""

    text: str
    decoded: bool


def normalize(text: str) -> Normalized:
    """NFKC + homoglyph fold + lowercase, head/tail cut, decoded base64/hex/leetspeak appended."""
    if len(text) > 2 * HEAD_TAIL:
        text = text[:HEAD_TAIL] + "\n" + text[-HEAD_TAIL:]
    extra: list[str] = []
    for m in _B64.finditer(text):
        dec = _decode_b64(m.group())
        if dec:
            extra.append(dec)
    for m in _HEX.finditer(text):
        try:
            s = bytes.fromhex(m.group().replace(" ", "")).decode("utf-8")
        except ValueError:
            continue
        if s.isprintable() and sum(c.isalpha() for c in s) > len(s) / 2:
            extra.append(s)
    t = unicodedata.normalize("NFKC", text).translate(_HOMOGLYPHS).lower()
    leet: list[str] = []
    if _LEET_HINT.search(t):
        cands = (w for w in _LEET_WORD.findall(t) if not w.isalpha() and not w.isdigit())
        leet = [d for d in (w.translate(_LEET) for w in cands) if d.isalpha()]
    decoded = bool(extra) or len(leet) >= 2
    if extra:
        t += " " + " ".join(unicodedata.normalize("NFKC", e).translate(_HOMOGLYPHS).lower() for e in extra)
    if leet:
        t += " " + " ".join(leet)
    return Normalized(t, decoded)


def context_window(context: Sequence[str]) -> str:
    """The earlier user turns the detector reads (the last ``WINDOW_TURNS - 1``, each cut), normalised."""
    half = CONTEXT_CHARS // 2
    turns = [
        t if len(t) <= CONTEXT_CHARS else t[:half] + "\n" + t[-half:] for t in list(context)[-(WINDOW_TURNS - 1) :]
    ]
    return normalize("\n".join(turns)).text if turns else ""


def earlier_user_turns(body: dict[str, Any]) -> list[str]:
    """The user turns before the last one that the window reads (at most ``WINDOW_TURNS - 1``, oldest first).

    Only the last few messages are looked at, so the cost does not grow with the conversation.
    """
    from semrouter.context import content_text

    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    users = [m for m in messages[-4 * WINDOW_TURNS :] if isinstance(m, dict) and m.get("role") == "user"]
    return [content_text(m.get("content")) for m in users[:-1]][-(WINDOW_TURNS - 1) :]


# ---------------------------------------------------------------- patterns (features and attack type)

# (name, literal gate words, regex): the regex only runs when one gate word occurs in the text (a plain
# substring test, ~µs), which keeps pattern matching cheap on long benign prompts.
_PATTERNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "instruction_override",
        ("ignor", "disregard", "forget", "override", "bypass", "skip"),
        r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(all |any |the |your )?"
        r"(previous|prior|above|earlier|preceding|original|initial|system|safety|existing)\b[^.\n]{0,20}"
        r"\b(instructions?|prompts?|rules|directives|guidelines|constraints|programming|context)\b",
    ),
    (
        "new_instructions",
        ("instruction", "task", "rules"),
        r"\b(new|updated|real|actual) (instructions?|task|rules)\s*(:|are|is)",
    ),
    (
        "persona_override",
        ("you are now", "from now on", "act as", "pretend", "roleplay as", "role-play as"),
        r"\b(you are now|from now on,? you (are|will)|act as|pretend (to be|you are)|roleplay as|role-play as)\b"
        r"[^.\n]{0,80}\b(no|without|free from|unfiltered|uncensored|unrestricted|any) ?"
        r"(restrictions?|filters?|limits|rules|guidelines|ethics|morals|censorship)?",
    ),
    (
        "dan",
        ("dan", "do anything now", "stan", "dude", "aim", "jailbr", "evil", "anti", "better"),
        r"\b(dan|do anything now|stan|dude|aim|jailbr(ea|o)k(en)?|evil ?bot|anti-?gpt|betterdan)\b",
    ),
    ("developer_mode", (" mode",), r"\b(developer|dev|god|debug|admin|sudo|unrestricted|maintenance) mode\b"),
    (
        "system_prompt_extraction",
        ("prompt", "instructions", "rules", "guidelines", "configuration", "above"),
        r"\b(reveal|print|show|repeat|output|display|tell me|leak|dump|what (is|are|was|were))\b[^.\n]{0,40}"
        r"\b(system prompt|initial (prompt|instructions)|hidden (prompt|instructions)|your (instructions|prompt|"
        r"rules|guidelines|configuration)|text above|words above|everything above)\b",
    ),
    ("pwned", ("pwned",), r"pwned"),
    (
        "no_refusal",
        ("refuse", "warning", "disclaimer"),
        r"\b(never refuse|not (allowed|able) to refuse|can'?t refuse|no (warnings|disclaimers))\b",
    ),
    (
        "fake_system",
        ("[", "<", "###"),
        r"(\[/?(system|inst)\]|<\|?(system|im_start)\|?>|###\s*(system|instruction))",
    ),
)
PATTERN_NAMES: tuple[str, ...] = (*(n for n, _, _ in _PATTERNS), "encoded")
_COMPILED = tuple((gate, re.compile(p)) for _, gate, p in _PATTERNS)

ATTACK_TYPES = ("persona_override", "instruction_override", "system_prompt_extraction", "encoded", "other")


def pattern_flags(norm: Normalized) -> F32:
    """Binary pattern vector in ``PATTERN_NAMES`` order."""
    v = np.zeros(len(PATTERN_NAMES), dtype=np.float32)
    t = norm.text
    for i, (gate, rx) in enumerate(_COMPILED):
        if any(g in t for g in gate) and rx.search(t):
            v[i] = 1.0
    v[-1] = 1.0 if norm.decoded else 0.0
    return v


def attack_type(flags: F32) -> str:
    """Coarse type from the pattern flags; ``other`` when no pattern names it."""
    f = dict(zip(PATTERN_NAMES, flags.tolist(), strict=True))
    if f["encoded"]:
        return "encoded"
    if f["system_prompt_extraction"]:
        return "system_prompt_extraction"
    if f["persona_override"] or f["dan"] or f["developer_mode"]:
        return "persona_override"
    if f["instruction_override"] or f["new_instructions"] or f["fake_system"] or f["pwned"]:
        return "instruction_override"
    return "other"


# ---------------------------------------------------------------- hashed n-grams

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_PRIME = np.uint64(1099511628211)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> np.uint64(33))
    h = h * _M1
    h = h ^ (h >> np.uint64(33))
    h = h * _M2
    return h ^ (h >> np.uint64(33))


def ngram_ids(text: str, salt: int = 0) -> I64:
    """Bucket ids (with repeats) of char 3-5-grams and word 1-2-grams of normalised ``text``.

    Stable across processes and platforms (no Python ``hash``): char n-grams use a polynomial hash over
    UTF-32 code points, vectorised in numpy; words use CRC-32. A non-zero ``salt`` maps the same n-grams
    to other buckets (the context window's own feature space).
    """
    padded = " " + re.sub(r"\s+", " ", text) + " "
    cp = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts: list[npt.NDArray[np.uint64]] = []
    with np.errstate(over="ignore"):
        h = cp.copy()  # rolling: hash of the n-gram starting at i, extended one char per step
        for n in range(2, max(CHAR_NGRAMS) + 1):
            if len(cp) < n:
                break
            h = h[:-1] * _PRIME + cp[n - 1 :]
            if n in CHAR_NGRAMS:
                parts.append(h + np.uint64(n))
        words = _WORD.findall(text)[:MAX_WORDS]
        if words:
            wh = np.array([zlib.crc32(w.encode()) for w in words], dtype=np.uint64)
            parts.append(wh + np.uint64(1 << 40))
            if len(wh) > 1:
                parts.append(wh[:-1] * _PRIME + wh[1:] + np.uint64(1 << 41))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return (_mix(np.concatenate(parts) ^ np.uint64(salt)) % np.uint64(N_BUCKETS)).astype(np.int64)


def tfidf(ids: I64, idf: F32) -> tuple[I64, F32]:
    """Sublinear-tf x idf, L2-normalised, as (unique bucket ids, values)."""
    if len(ids) == 0:
        return ids, np.zeros(0, dtype=np.float32)
    uniq, counts = np.unique(ids, return_counts=True)
    vals = (1.0 + np.log(counts)).astype(np.float32) * idf[uniq]
    norm = float(np.sqrt(np.dot(vals, vals)))
    return uniq, vals / norm if norm > 0 else vals


def sparse_features(ids: I64, context_ids: I64, idf: F32) -> tuple[I64, F32]:
    """The n-gram part of the feature vector: the current turn's tf-idf plus ``CONTEXT_WEIGHT`` x the
    context window's (salted ids), as (bucket ids, values); a bucket may repeat (values add up)."""
    u, v = tfidf(ids, idf)
    if len(context_ids) == 0:
        return u, v
    cu, cv = tfidf(context_ids, idf)
    return np.concatenate([u, cu]), np.concatenate([v, cv * np.float32(CONTEXT_WEIGHT)])


_MEMO_CHARS = 16_384


@functools.lru_cache(maxsize=32)
def _normalized_ngrams(text: str) -> tuple[Normalized, I64]:
    norm = normalize(text)
    ids = ngram_ids(norm.text)
    ids.flags.writeable = False  # shared between heads: nobody may change it in place
    return norm, ids


def normalized_ngrams(text: str) -> tuple[Normalized, I64]:
    """``normalize(text)`` and the n-gram ids of its text, computed once per request text.

    The jailbreak and harmful heads read the same de-obfuscated text and the same hashed n-grams, which
    is most of their cost beyond the embedding; both call this with the request's one text object, so
    the second lookup is a dict hit (a str caches its hash). Texts past ``_MEMO_CHARS`` are not kept
    (the memo holds at most 32 x 16 KB); their ids are computed per caller, as before.
    """
    if len(text) > _MEMO_CHARS:
        norm = normalize(text)
        return norm, ngram_ids(norm.text)
    return _normalized_ngrams(text)


def featurize(text: str, context: Sequence[str] = ()) -> tuple[I64, I64, F32]:
    """(current-turn n-gram ids, context n-gram ids, pattern flags of the current turn)."""
    norm, ids = normalized_ngrams(text)
    window = context_window(context) if context else ""
    ctx_ids = ngram_ids(window, CONTEXT_SALT) if window else np.zeros(0, dtype=np.int64)
    return ids, ctx_ids, pattern_flags(norm)


# ---------------------------------------------------------------- detector


@dataclass(frozen=True)
class JailbreakResult:
    """Calibrated probability, the verdict at the shipped threshold, and the coarse attack type."""

    probability: float
    is_jailbreak: bool
    type: str


@dataclass(frozen=True)
class JailbreakDetector:
    """Loaded model; immutable and safe to share between threads."""

    emb_weight: F32
    ngram_weight: F32
    idf: F32
    pattern_weight: F32
    bias: float
    temperature: float = 1.0
    threshold: float = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> JailbreakDetector:
        """The shipped head (or a trained replacement at ``path``)."""
        with np.load(Path(path or JAILBREAK_HEAD_PATH), allow_pickle=False) as z:
            names = tuple(str(s) for s in z["patterns"])
            if names != PATTERN_NAMES:
                raise ValueError(f"head was trained with patterns {names}, code has {PATTERN_NAMES}")
            return cls(
                emb_weight=np.ascontiguousarray(z["emb_weight"], dtype=np.float32),
                ngram_weight=np.ascontiguousarray(z["ngram_weight"], dtype=np.float32),
                idf=np.ascontiguousarray(z["idf"], dtype=np.float32),
                pattern_weight=np.ascontiguousarray(z["pattern_weight"], dtype=np.float32),
                bias=float(z["bias"]),
                temperature=float(z["temperature"]),
                threshold=float(z["threshold"]),
                metadata=json.loads(str(z["metadata"])),
            )

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            Path(path),
            emb_weight=self.emb_weight.astype(np.float32),
            ngram_weight=self.ngram_weight.astype(np.float32),
            idf=self.idf.astype(np.float32),
            pattern_weight=self.pattern_weight.astype(np.float32),
            bias=np.float64(self.bias),
            temperature=np.float64(self.temperature),
            threshold=np.float64(self.threshold),
            patterns=np.array(PATTERN_NAMES, dtype=str),
            metadata=np.array(json.dumps(self.metadata, sort_keys=True), dtype=str),
        )

    def logit(self, text: str, embedding: npt.ArrayLike, context: Sequence[str] = ()) -> tuple[float, F32]:
        """Uncalibrated logit and the pattern flags (the flags also give the attack type).

        ``embedding`` is ``text``'s; ``context`` holds the earlier user turns of the conversation (oldest first).
        """
        # a head trained before the context window existed (no "context" in its metadata) has no weights
        # for context n-grams: it reads the current turn only, as it was trained
        cur_ids, ctx_ids, flags = featurize(text, context if "context" in self.metadata else ())
        ids, vals = sparse_features(cur_ids, ctx_ids, self.idf)
        z = self.bias + float(np.dot(np.asarray(embedding, dtype=np.float32), self.emb_weight))
        z += float(np.dot(vals, self.ngram_weight[ids])) + float(np.dot(flags, self.pattern_weight))
        return z, flags

    def score(self, text: str, embedding: npt.ArrayLike, context: Sequence[str] = ()) -> tuple[float, str]:
        """(calibrated jailbreak probability, coarse type) for one prompt, its shared embedding and the
        earlier user turns (``context``, optional)."""
        z, flags = self.logit(text, embedding, context)
        p = 1.0 / (1.0 + math.exp(-max(min(z / self.temperature, 60.0), -60.0)))
        return p, attack_type(flags)

    def detect(
        self, text: str, embedding: npt.ArrayLike, threshold: float | None = None, context: Sequence[str] = ()
    ) -> JailbreakResult:
        """``score`` plus the verdict at ``threshold`` (default: the shipped one)."""
        p, kind = self.score(text, embedding, context)
        thr = self.threshold if threshold is None else threshold
        return JailbreakResult(p, p >= thr, kind)
