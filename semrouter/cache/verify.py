"""Pair verifier for semantic-cache candidates: are these two questions the *same* question?

Why: a sentence embedding puts "how do I turn on dark mode" and "how do I turn off dark mode", "who won
the 2018 World Cup" and "who was runner-up", "20% of 150" and "150 increased by 20%" within cosine 0.9 of
each other, while a terse, chatty or typo-ridden rewording of the same question can fall below 0.8. No
single cosine threshold separates them (issue 17: hit rate 0.44 with false-hit rate 0.108 on questions
written elsewhere). So the cache takes any candidate above a permissive cosine and asks this verifier,
which reads both texts together.

What the lexical verifier reads (:func:`pair_features`): the cosine of the two embeddings, the lexical guard's verdict
(:func:`semrouter.cache.match.compatible`), and how the two texts differ once both are reduced to their
content words (lower case, light stemming, irregular forms and derived nouns folded: "wrote" / "written"
/ "write", "height" / "tall"; typos matched by edit distance): how many content words each side has that
the other lacks, whether words were *substituted* (both sides have unmatched words: the shape of a swapped
entity, operation or role) or only added / dropped (the shape of a chatty or terse rewording), whether the
unmatched words include a sense-changing modifier (vice, runner-up, beginner, extended, ...), an
antonym of a word on the other side (on / off, increase / decrease), a capitalised name, a different
wh-question (who vs when: another attribute of the same subject), or relation words around the same
numbers ("20% of" vs "increased by 20%"). A small MLP over those 22 features gives P(same question).

Two verifiers, chosen by ``cache.verifier.model``:

* :class:`PairModel` (``pair``, the default): a cross-encoder, the shipped embedding model's first three
  layers fine-tuned on hand-written paraphrase / near-miss groups (``scripts/train_cache_crossencoder.py``),
  reading ``[CLS] stored [SEP] query [SEP]``. It sees whether a changed word is a synonym or another
  question. ~1-1.8 ms per candidate on one core of the AVX-512 VNNI hosts measured (run off the event loop);
  an exact repeat skips the model (:func:`same_content`).
* :class:`Verifier` (``lexical``): a small MLP over :func:`pair_features`, ~0.25 ms on top of the lexical
  guard. It reuses the cosine the lookup already computed, but its inputs are lexical, so it cannot tell a
  synonym from a swapped word.

Both run only on candidates (a miss with no candidate costs nothing), and both were trained on data none of
which comes from the out-of-source evaluation set (``tests/data/oos/cache_pairs.jsonl``); their thresholds
were chosen on another author's held-out groups. The lexical weights are a small npz asset
(``assets/verifier.npz``, ``scripts/build_cache_verifier.py``).

How good they are, honestly, on the out-of-source pairs (docs/benchmarks.md ``cache-oos``; pair by pair,
each variant against its own original): the pair model serves 0.6% of near misses (1 of 156) and 65% of
paraphrases at its threshold; the lexical one 1.3% of near misses and 29% of paraphrases; no verifier, 32%
and 59%. A miss costs one upstream call; a false hit
serves a wrong answer, so the operating points lean strict (``cache.verifier.threshold`` moves them).

Cost is bounded: each side is cut to :data:`MAX_TOKENS` tokens and typo matching compares at most
:data:`MAX_FUZZY` unmatched words per side, so a check is linear in the (already bounded) normalised text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from semrouter.cache.match import compatible

__all__ = [
    "ASSET",
    "CE_ASSET",
    "CE_MAX_TOKENS",
    "FEATURES",
    "MAX_TOKENS",
    "PairModel",
    "PairVerifier",
    "Verifier",
    "load_verifier",
    "pair_features",
    "same_content",
]

ASSET = Path(__file__).parent / "assets" / "verifier.npz"
CE_ASSET = Path(__file__).parent / "assets" / "pair_ce.int8.onnx"
CE_MAX_TOKENS = 96
_CE_MAX_CHARS = 1000  # ~200 word pieces per side: more than the cap, so truncation sees both sides
MAX_TOKENS = 256
MAX_FUZZY = 24

_TOKEN = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?|%|\$|€|£")


def _words(text: str) -> list[str]:
    """Word lists are written as one string (readable, diff-friendly), split once at import."""
    return text.split()


# Words that carry no content for "is this the same question": function words, question framing and
# the padding of chatty requests ("hey, quick question, could you please tell me ...").
_STOP = frozenset(
    _words(
        """
    a an the of and or to in on at by for with from as into onto about over under than then so if is are
    was were be been being am do does did done doing have has had having it its it's this that these those
    there here what what's whats which who's i me my mine we our us you your yours u ur he she him her his
    they them their can could would should will shall may might must please pls plz tell know explain
    describe give show let help need want wondering wonder curious question quick just hey hi hello thanks
    thank thx really actually basically like kind sort something anything some any also too very much way
    one ones get got say said mean meaning mind okay ok well oh um so yeah yes hmm lol guys anyone someone
    somebody friend friends again still even exactly simply quite pretty bit little lot lots maybe
    perhaps probably wanna gonna gotta trying try im i'm ive i've id i'd dont don't cant can't ask asking
    asked wondered thinking think idea ideas info information details detail answer answers find out
    regarding re about concerning whether how when where who whom whose why which
    """
    )
)

# A transposed function word ("teh", "waht", "hwo") is still a function word.
_STOP_SHAPES = frozenset("".join(sorted(w)) for w in _STOP if 3 <= len(w) <= 5)

# Irregular forms and derived nouns folded onto one word, so a rewording that turns a verb into a noun
# ("who wrote" / "the author of", "how tall" / "the height of") is not mistaken for a substitution.
_FOLD = {
    "wrote": "write",
    "written": "write",
    "writes": "write",
    "writing": "write",
    "writer": "write",
    "author": "write",
    "authored": "write",
    "built": "build",
    "builds": "build",
    "building": "build",
    "constructed": "build",
    "construct": "build",
    "fell": "fall",
    "fallen": "fall",
    "falls": "fall",
    "born": "birth",
    "bore": "birth",
    "died": "death",
    "die": "death",
    "dies": "death",
    "dead": "death",
    "tall": "height",
    "high": "height",
    "height": "height",
    "elevation": "height",
    "altitude": "height",
    "long": "length",
    "length": "length",
    "wide": "width",
    "width": "width",
    "deep": "depth",
    "depth": "depth",
    "heavy": "weight",
    "weigh": "weight",
    "weighs": "weight",
    "big": "size",
    "large": "size",
    "old": "age",
    "far": "distance",
    "cost": "price",
    "costs": "price",
    "expensive": "price",
    "cheap": "price",
    "won": "win",
    "wins": "win",
    "winning": "win",
    "winner": "win",
    "victory": "win",
    "began": "begin",
    "begun": "begin",
    "start": "begin",
    "started": "begin",
    "starts": "begin",
    "ended": "end",
    "ends": "end",
    "finish": "end",
    "finished": "end",
    "made": "make",
    "makes": "make",
    "making": "make",
    "created": "make",
    "create": "make",
    "invented": "invent",
    "inventor": "invent",
    "invention": "invent",
    "discovered": "discover",
    "discoverer": "discover",
    "discovery": "discover",
    "founded": "found",
    "founder": "found",
    "painted": "paint",
    "painter": "paint",
    "composed": "compose",
    "composer": "compose",
    "directed": "direct",
    "director": "direct",
    "went": "go",
    "gone": "go",
    "goes": "go",
    "going": "go",
    "ran": "run",
    "runs": "run",
    "running": "run",
    "ate": "eat",
    "eaten": "eat",
    "eats": "eat",
    "eating": "eat",
    "took": "take",
    "taken": "take",
    "takes": "take",
    "taking": "take",
    "gave": "give",
    "given": "give",
    "bought": "buy",
    "sold": "sell",
    "paid": "pay",
    "spent": "spend",
    "fix": "repair",
    "fixing": "repair",
    "repair": "repair",
    "quickest": "fast",
    "quickly": "fast",
    "fastest": "fast",
    "speed": "fast",
    "best": "good",
    "better": "good",
    "worst": "bad",
    "worse": "bad",
    "kids": "child",
    "kid": "child",
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "usa": "us",
    "america": "us",
    "american": "us",
    "uk": "britain",
    "british": "britain",
    "num": "number",
    "amount": "number",
    "many": "number",
    "count": "number",
    "calculate": "compute",
    "calculating": "compute",
    "work": "compute",
    "figure": "compute",
    "capital": "capital",
    "definition": "define",
    "defined": "define",
    "meaning": "define",
    "recipe": "make",
    "cook": "make",
    "cooking": "make",
    "prepare": "make",
    "steps": "step",
    "ways": "way",
    "method": "way",
    "methods": "way",
    "tips": "tip",
    "advice": "tip",
    "located": "location",
    "locate": "location",
    "where": "location",
    "situated": "location",
}

# Words whose presence on one side only changes what is asked (role, degree, level, scope, time).
_MODIFIERS = frozenset(
    _words(
        """
    vice deputy assistant associate acting former ex future next previous last first second third final
    runner runnerup runner-up semi semifinal quarter half double triple minimum maximum min max least most
    lowest highest smallest largest biggest shortest longest earliest latest oldest youngest cheapest
    beginner beginners intermediate advanced expert senior junior basic introductory extended standard
    express priority early late overdue partial full total net gross annual monthly weekly daily hourly
    average median mean per before after during without non anti pre post sub super ultra mini pro plus
    lite max hard soft raw cooked boiled fried frozen fresh dry wet hot cold warm cool iced decaf
    diet light dark organic refurbished used new old vegan vegetarian gluten sugar free paid premium
    domestic international local national federal state private public indoor outdoor male female
    adult infant toddler elderly pregnant fraternal identical step half-life
    """
    )
)

# Antonym / converse pairs: one side's unmatched word against the other side's unmatched word.
_ANTONYMS_SPEC = """
on off|open close|opened closed|start stop|enable disable|enabled disabled|activate deactivate|lock unlock
mount unmount|install uninstall|connect disconnect|subscribe unsubscribe|follow unfollow|mute unmute
increase decrease|increased decreased|raise lower|rise fall|gain lose|gained lost|add remove|added removed
more less|most least|higher lower|above below|up down|upload download|import export|buy sell|bought sold
borrow lend|give receive|send receive|win lose|won lost|winner loser|pass fail|passed failed|accept reject
build destroy|built destroyed|create delete|encrypt decrypt|compress decompress|encode decode|zip unzip
push pull|enter exit|arrive depart|arrival departure|import export|inflow outflow|input output|deposit withdraw
hot cold|heat cool|warm cool|fast slow|early late|before after|first last|begin end|beginning end|start finish
in out|inside outside|include exclude|allow block|allowed banned|legal illegal|true false|positive negative
maximum minimum|max min|strong weak|long short|tall short|big small|large small|heavy light|wide narrow
rich poor|cheap expensive|young old|new old|male female|husband wife|father mother|son daughter|brother sister
north south|east west|left right|top bottom|front back|day night|morning evening|summer winter|spring autumn
sunrise sunset|north-east south-west|import export|pros cons|advantages disadvantages|benefits risks
cause effect|causes effects|symptoms treatment|attack defend|offense defense|asset liability|debit credit
profit loss|income expense|revenue cost|supply demand|import export|shortest longest|lowest highest
ascending descending|sort shuffle|upper lower|uppercase lowercase|encrypt hash|merge split|join split
freeze thaw|melt freeze|boil freeze|hard soft|raw cooked|wet dry|clean dirty|safe dangerous|healthy unhealthy
"""


def _pairs(spec: str) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for item in spec.replace("\n", "|").split("|"):
        words = item.split()
        if len(words) == 2:
            a, b = _stem(words[0]), _stem(words[1])
            out.add((a, b))
            out.add((b, a))
    return frozenset(out)


_WH = {
    "who": "person",
    "whom": "person",
    "whose": "person",
    "when": "time",
    "year": "time",
    "date": "time",
    "century": "time",
    "decade": "time",
    "where": "place",
    "location": "place",
    "country": "place",
    "city": "place",
    "why": "reason",
    "reason": "reason",
    "because": "reason",
    "much": "quantity",
    "number": "quantity",
    "many": "quantity",
}

_RELATIONS = frozenset(
    _words(
        "of increase increased decrease decreased reduce reduced more less than times per divided plus minus "
        "off discount markup tip tax after before above below over under between out from to by"
    )
)


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """Fold, then strip a plural / tense suffix: the same on both sides, not a linguistic stem."""
    w = word.replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    folded = _FOLD.get(w)
    if folded is not None:
        return folded
    for suffix, repl, min_len in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if len(w) >= min_len and w.endswith(suffix) and not w.endswith(("ss", "us", "is")):
            w = w[: -len(suffix)] + repl
            break
    return _FOLD.get(w, w)


_ANTONYMS = _pairs(_ANTONYMS_SPEC)
_MODIFIER_STEMS = frozenset(_stem(w) for w in _MODIFIERS) | _MODIFIERS


@dataclass(frozen=True, slots=True)
class _Text:
    tokens: tuple[str, ...]  # lower-case tokens (bounded)
    content: tuple[str, ...]  # stemmed content words, in order
    numbers: tuple[str, ...]
    capitals: frozenset[str]  # stems of capitalised words that do not start a sentence
    wh: frozenset[str]
    relations: frozenset[str]


@lru_cache(maxsize=4096)
def _analyse(text: str) -> _Text:
    raw = text[: MAX_TOKENS * 12]
    capitals: set[str] = set()
    for m in re.finditer(r"(?<=[a-z0-9,] )([A-Z][a-zA-Z]+)", raw):
        capitals.add(_stem(m.group(1).lower()))
    tokens = tuple(_TOKEN.findall(raw.lower()))[:MAX_TOKENS]
    content: list[str] = []
    numbers: list[str] = []
    wh: set[str] = set()
    relations: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok[0].isdigit():
            numbers.append(tok.lstrip("0") or "0")
            continue
        if tok in _WH:
            kind = _WH[tok]
            if kind != "quantity" or (i > 0 and tokens[i - 1] == "how") or tok == "number":
                wh.add(kind)
        st = _stem(tok)
        if tok in _RELATIONS or st in _RELATIONS:
            relations.add(st)
        if (
            tok in _STOP
            or (len(tok) == 1 and tok not in "%$€£")
            or (3 <= len(tok) <= 5 and "".join(sorted(tok)) in _STOP_SHAPES and st not in _MODIFIER_STEMS)
        ):
            continue
        content.append(st)
    return _Text(tokens, tuple(content), tuple(numbers), frozenset(capitals), frozenset(wh), frozenset(relations))


def _edit_close(a: str, b: str) -> bool:
    """One typo (two in long words): Levenshtein with an early exit; short words must match exactly."""
    if min(len(a), len(b)) < 4:
        return False
    limit = 1 if max(len(a), len(b)) < 8 else 2
    if abs(len(a) - len(b)) > limit:
        return False
    if a[:1] != b[:1] and a[-1:] != b[-1:]:
        return False
    before: list[int] = []  # the row two back, for transpositions
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        best = i
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:  # two letters swapped: one slip
                cur[j] = min(cur[j], before[j - 2] + 1)
            best = min(best, cur[j])
        if best > limit:
            return False
        before, prev = prev, cur
    return prev[-1] <= limit


def _unmatched(mine: set[str], theirs: set[str]) -> set[str]:
    """My content words the other side lacks, after exact, prefix (compound / derivation) and typo matching."""
    left = mine - theirs
    if not left:
        return left
    out: set[str] = set()
    others = sorted(theirs - mine)[:MAX_FUZZY]
    for w in sorted(left)[:MAX_FUZZY]:
        if any(
            (len(w) >= 5 and len(o) >= 5 and (w.startswith(o[:5]) and o.startswith(w[:5])))
            or _edit_close(w, o)
            or (len(w) >= 6 and w.replace("-", "") == o.replace("-", ""))
            for o in others
        ):
            continue
        # a compound split in two on the other side ("runnerup" vs "runner up", "typescript" vs "type script")
        if any(w.startswith(o) and w[len(o) :] in theirs for o in theirs if 2 < len(o) < len(w)):
            continue
        out.add(w)
    out.update(sorted(left)[MAX_FUZZY:])
    return out


FEATURES = (
    "cosine",
    "cosine_sq",
    "lexical_guard",
    "only_q",
    "only_s",
    "substituted",
    "added_or_dropped",
    "frac_only_q",
    "frac_only_s",
    "jaccard",
    "antonym",
    "modifier",
    "capital_unmatched",
    "numbers_differ",
    "numbers_same_relation_differs",
    "wh_differs",
    "log_len_min",
    "len_ratio",
    "order_overlap",
    "substituted_x_cosine",
    "no_content_diff",
    "one_word_swap",
)


def _antonym_tokens(a: _Text, b: _Text) -> bool:
    """A word only one side has is an antonym of a word only the other has (on / off, increase / decrease)."""
    ta, tb = set(a.tokens), set(b.tokens)
    return any((x, y) in _ANTONYMS for x in ta - tb for y in tb - ta)


def pair_features(query: str, stored: str, cosine: float) -> npt.NDArray[np.float32]:
    """The verifier's input for one (request, stored question) pair; names in :data:`FEATURES`."""
    a, b = _analyse(query), _analyse(stored)
    sa, sb = set(a.content), set(b.content)
    only_a, only_b = _unmatched(sa, sb), _unmatched(sb, sa)
    na, nb = len(only_a), len(only_b)
    union = len(sa | sb) or 1
    antonym = any((x, y) in _ANTONYMS for x in only_a for y in only_b) or _antonym_tokens(a, b)
    modifier = sum(1 for w in only_a | only_b if w in _MODIFIER_STEMS)
    capital = sum(1 for w in (a.capitals - sb) | (b.capitals - sa) if w in only_a | only_b)
    numbers_differ = sorted(a.numbers) != sorted(b.numbers)
    relation_differs = bool(a.numbers) and not numbers_differ and a.relations != b.relations
    wh_differs = bool(a.wh) and bool(b.wh) and not (a.wh & b.wh)
    la, lb = max(len(a.content), 1), max(len(b.content), 1)
    common = [w for w in a.content if w in sb]
    common_b = [w for w in b.content if w in sa]
    order = _lcs_ratio(common[:64], common_b[:64])
    substituted = min(na, nb) > 0
    values = [
        cosine,
        cosine * cosine,
        float(compatible(query, stored)),
        float(min(na, 6)),
        float(min(nb, 6)),
        float(substituted),
        float((na > 0) != (nb > 0)),
        na / la,
        nb / lb,
        len(sa & sb) / union,
        float(antonym),
        float(min(modifier, 3)),
        float(min(capital, 3)),
        float(numbers_differ),
        float(relation_differs),
        float(wh_differs),
        math.log1p(min(la, lb)),
        min(la, lb) / max(la, lb),
        order,
        float(substituted) * cosine,
        float(na == 0 and nb == 0),
        float(na == 1 and nb == 1),
    ]
    return np.asarray(values, dtype=np.float32)


def same_content(query: str, stored: str) -> bool:
    """The two questions differ only in case, punctuation or function words: the same content words (after
    light stemming) and numbers in the same order, no antonym or question word swapped, and the lexical guard
    agrees. An exact repeat is the commonest case. Why the pair model needs this: it learnt from near misses
    that keep every word but one, so a pair with *no* changed word lies outside what it was shown (it scores
    an exact repeat low). Typos, derived forms and reorderings are left to the model: matched loosely, they
    let "employee's / employer's share", "freeze / unfreeze" and "A to B / B to A" through."""
    a, b = _analyse(query), _analyse(stored)
    if a.content != b.content or a.numbers != b.numbers or a.relations != b.relations:
        return False
    if a.wh and b.wh and not (a.wh & b.wh):
        return False
    if _antonym_tokens(a, b):
        return False
    return compatible(query, stored)


def _lcs_ratio(a: list[str], b: list[str]) -> float:
    """Share of the common words that appear in the same order on both sides (LCS over <= 64 words)."""
    if not a or not b:
        return 1.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1] / max(len(a), len(b))


class PairVerifier(Protocol):
    """What the cache stage asks of a verifier: P(same question) and the operating point it was tuned for."""

    threshold: float
    heavy: bool  # a model pass (milliseconds): run it off the event loop

    def score(self, query: str, stored: str, cosine: float) -> float: ...


def load_verifier(model: str) -> PairVerifier:
    """The shipped verifier named by ``cache.verifier.model``, loaded once per process."""
    if model == "pair":
        return PairModel.default()
    if model == "lexical":
        return Verifier.default()
    raise ValueError(f"unknown cache verifier model {model!r} (expected 'pair' or 'lexical')")


class Verifier:
    """P(same question) from :func:`pair_features` with a one-hidden-layer MLP loaded from an npz asset.

    ``threshold`` is the asset's operating point (chosen on the training pairs' validation split) unless
    the config overrides it.
    """

    heavy = False

    def __init__(self, params: dict[str, Any]) -> None:
        names = tuple(str(n) for n in params["features"])
        if names != FEATURES:
            raise ValueError(f"verifier asset was trained on other features: {names}")
        self.mean = np.asarray(params["mean"], dtype=np.float32)
        self.scale = np.asarray(params["scale"], dtype=np.float32)
        self.w1 = np.asarray(params["w1"], dtype=np.float32)
        self.b1 = np.asarray(params["b1"], dtype=np.float32)
        self.w2 = np.asarray(params["w2"], dtype=np.float32)
        self.b2 = float(np.asarray(params["b2"]).reshape(-1)[0])
        self.threshold = float(np.asarray(params["threshold"]).reshape(-1)[0])

    @classmethod
    def load(cls, path: Path | str = ASSET) -> Verifier:
        with np.load(path, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> Verifier:
        """The shipped verifier, loaded once per process."""
        return cls.load(ASSET)

    def score_features(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """P(same) for a (n, len(FEATURES)) feature matrix."""
        z = (np.atleast_2d(x) - self.mean) / self.scale
        h = np.tanh(z @ self.w1 + self.b1)
        logit = h @ self.w2 + self.b2
        out: npt.NDArray[np.float32] = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return out

    def score(self, query: str, stored: str, cosine: float) -> float:
        """P(the request ``query`` asks the same as the stored question ``stored``), given their cosine."""
        return float(self.score_features(pair_features(query, stored, cosine))[0])


_ALPHA_WORD = re.compile(r"[^\W\d_]{4,}")
MAX_FOLD = 16  # unknown words looked at per side: a bound on the work, far above a question's typos


def fold_typos(query: str, stored: str, known: Callable[[str], bool]) -> tuple[str, str]:
    """Spell each side's slips the way the other side spells the word: ``enabel`` / ``outlok`` in the query
    become ``enable`` / ``outlook`` when the stored question has them, and the other way round.

    Why: the pair model reads word pieces, and a slip turns a word into unrelated pieces (``outlok`` is
    ``out ##lok``), which it learnt to read as a changed word, that is, another question. Out of source it
    scored "how do i enabel dark mode in outlok on my mac" 0.01 against the same question spelt right.

    What is folded, and what is never: a word of four or more letters that ``known`` does not hold (the
    tokenizer's whole-word vocabulary: a slip rarely lands on a real word), onto the one word of the other
    side that this side lacks and that is one slip away (:func:`_one_slip`). A word in the vocabulary is never
    rewritten, so "increase" / "decrease", "employer" / "employee" and "build" / "built" stay as they are
    for the model to judge, and neither are "unfreeze" / "freeze" or "methanol" / "ethanol", which the
    vocabulary lacks but which are more than one slip apart. At most :data:`MAX_FOLD` unknown words per side
    are looked at."""
    s_words = {w.lower() for w in _ALPHA_WORD.findall(stored)}
    query = _fold(query, {w.lower() for w in _ALPHA_WORD.findall(query)}, s_words, known)
    # then the stored side against the query as folded, so two unknown spellings are not swapped
    return query, _fold(stored, s_words, {w.lower() for w in _ALPHA_WORD.findall(query)}, known)


def _one_slip(a: str, b: str) -> bool:
    """``a`` is ``b`` with one slip: a letter swapped for another, dropped, added, or two neighbours swapped,
    never the first letter. Stricter than :func:`_edit_close`: two edits turn "freeze" into "unfreeze" and
    "medicare" into "medicaid", and a changed first letter "ethanol" into "methanol" or "VLOOKUP" into
    "HLOOKUP", words the vocabulary lacks but that name other things."""
    if a[:1] != b[:1] or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if abs(len(a) - len(b)) != 1:
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def _fold(text: str, mine: set[str], theirs: set[str], known: Callable[[str], bool]) -> str:
    unknown = sorted(w for w in mine - theirs if not known(w))[:MAX_FOLD]
    if not unknown:
        return text
    targets = sorted(theirs - mine)[:MAX_FUZZY]
    swap: dict[str, str] = {}
    for w in unknown:
        close = [t for t in targets if _one_slip(w, t)]
        if len(close) == 1:  # an ambiguous slip stays for the model to read
            swap[w] = close[0]
    if not swap:
        return text
    return _ALPHA_WORD.sub(lambda m: swap.get(m.group(0).lower(), m.group(0)), text)


class PairModel:
    """P(same question) from a cross-encoder that reads both questions together (``assets/pair_ce.int8.onnx``).

    Why: the lexical features above see *that* a content word changed, not whether the change is a synonym
    ("cancel" / "end my subscription") or another question ("cancel" / "pause"). A transformer reading
    ``[CLS] stored [SEP] query [SEP]`` does. It is the shipped embedding model's own first layers, fine-tuned on
    hand-written paraphrase / near-miss groups (``scripts/train_cache_crossencoder.py``), so it needs no new
    vocabulary: it reuses the embedding's tokenizer. Its cost grows with the pair's tokens and is capped at
    :data:`CE_MAX_TOKENS`; each text is cut to :data:`_CE_MAX_CHARS` characters before tokenising. Before the
    model reads a pair, slips are spelt as the other side spells them (:func:`fold_typos`; ``fold=False``
    turns it off): on held-out authors' groups with generated slips, it halved the mistyped near misses the
    model served (0.21 -> 0.10 of them) and served more mistyped rewordings (0.64 -> 0.82), with the clean
    near misses served unchanged (docs/benchmarks.md, "Slips").

    One ORT thread by default: a pair is ~25 word pieces, too little work to split. On the 2-core AVX-512 VNNI
    host, over 600 out-of-source pairs, the shipped three-layer model takes 1.38 ms at p50 on one thread and
    1.68 ms on two (the two-layer one 1.00 / 1.24 ms), and one thread leaves the other core to the request
    beside it. (On the older AVX2-only host two threads were faster for the two-layer model, 3.5-4.1 against
    ~6 ms.)
    """

    heavy = True

    def __init__(self, path: Path | str = CE_ASSET, *, threads: int = 1, fold: bool = True) -> None:
        from tokenizers import Tokenizer

        from semrouter.embed.model import ASSETS_DIR, TOKENIZER_FILE, cpu_session

        self.session = cpu_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.threshold = float(meta["semrouter.threshold"])
            max_tokens = int(meta.get("semrouter.max_tokens", CE_MAX_TOKENS))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a semrouter pair model (metadata: {sorted(meta)})") from exc
        self.tokenizer = Tokenizer.from_file(str(ASSETS_DIR / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens, strategy="longest_first")
        self._vocab = frozenset(self.tokenizer.get_vocab())
        self.fold = fold

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> PairModel:
        """The shipped pair model, loaded once per process."""
        return cls(CE_ASSET)

    def logit(self, query: str, stored: str) -> float:
        from semrouter.embed.model import padded_feeds

        enc = self.tokenizer.encode(stored[:_CE_MAX_CHARS], query[:_CE_MAX_CHARS])
        return float(self.session.run(None, padded_feeds([enc]))[0].reshape(-1)[0])

    def score(self, query: str, stored: str, cosine: float) -> float:
        """P(``query`` asks the same as ``stored``); 1.0 without a model pass when only the form differs
        (:func:`same_content`), before or after the two sides' slips are spelt alike (:func:`fold_typos`,
        questions of at most :data:`_CE_MAX_CHARS` characters: the model reads no more, and a cut text must
        not pass for the same content). The cosine is not an input: the encoder reads the texts."""
        if same_content(query, stored):
            return 1.0
        if self.fold and len(query) <= _CE_MAX_CHARS and len(stored) <= _CE_MAX_CHARS:
            query, stored = fold_typos(query, stored, self._vocab.__contains__)
            if same_content(query, stored):
                return 1.0
        return 1.0 / (1.0 + math.exp(-self.logit(query, stored)))
