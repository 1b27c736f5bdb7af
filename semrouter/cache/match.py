"""Lexical guard for semantic-cache hits: is it safe to serve the stored answer to this request?

Why it exists: a sentence embedding (MiniLM-L6 here) places "What is 17 * 23?" and "What is 17 * 24?",
"capital of France" and "capital of Germany", "Is X safe?" and "Is X not safe?" within cosine 0.9 of each
other, and puts a question and its translation close too. Raising the threshold until those miss also
drops most real paraphrases, so the cache serves a hit only when the similarity clears the threshold
*and* the two texts agree on the few things an embedding is blind to (``compatible``):

* **numbers** — the same multiset of values, digits or written ("seventeen", "twenty-three",
  "1,000" = "1000"), and the same order when arithmetic that does not commute (``-``, ``/``, ``^``) is
  involved;
* **salient terms** — proper nouns (capitalised words that do not start a sentence), acronyms,
  mixed-case names (``iPhone``), single capital letters (``C``, ``R``), code identifiers
  (``os.path.join``, ``snake_case``, ``camelCase``, ``f()``), quoted strings, and gazetteer terms that
  people type in lower case (countries, cities, languages, programming languages and tools, currencies,
  units, months, planets, ...). Each salient term of either side must occur in the other side's text
  (case-insensitive, light plural stemming), so a reworded paraphrase that keeps its entities passes;
* **negation polarity** — the parity of negation cues (not, n't, never, without, no, ...);
* **contrast families** — words that name mutually exclusive variants of the same question (symptoms /
  causes / treatment, advantages / disadvantages, encrypt / decrypt, minimum / maximum, the arithmetic
  operator, ...): when both sides use a family, they must share a member;
* **direction** — "USD to EUR" against "EUR to USD" (the same terms around to / into / than / ->,
  reversed);
* **language and script** — the dominant script must match, and within Latin script the language
  guessed from function words (en, es, fr, de, it, pt, nl) must match when both sides are confident:
  the answer is expected in the language of the question.

Everything is regular expressions and set look-ups over a bounded text, memoised per text, so a check
costs tens of microseconds and is deterministic. It is deliberately conservative: when in doubt it says
"incompatible", which costs one upstream call, whereas a false hit serves a wrong answer.

Known blind spots (the quality gate is ``tests/unit/test_cache_quality.py``; numbers in the docs):

* a different question about the same things with no contrast word ("How do I sort a list?" vs "How do
  I shuffle a list?" is caught, "... flatten a list?" is not) — only the similarity threshold stops it;
* lower-case entities outside the gazetteer ("salary of a nurse" vs "of a teacher", "ethanol" vs
  "methanol"), and sentence-initial proper nouns ("Paris is ..."): the other side's capitalised or
  gazetteer terms usually catch the swap, the threshold otherwise;
* strictness that costs hits, never correctness: a negation reworded ("avoid crowds" vs "not big
  crowds"), numbers spelled differently ("World War I" vs "1", "six-sided", "a dozen"), a unit the other
  side leaves implicit ("how many hours of sleep" vs "how much sleep"), a capitalised word the other side
  omits ("continents on Earth" is fine, "... in Europe" is not);
* language detection covers en/es/fr/de/it/pt/nl by function words and other scripts by code points;
  a short Latin-script text in another language can go undetected (then only the threshold applies).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = ["MAX_NORMALIZED_CHARS", "compatible", "hit_ok", "normalize"]

_HEAD_CHARS = 2048
_TAIL_CHARS = 2048
_DIGEST_MARK = "\u2063#"  # invisible separator + '#': cannot come out of whitespace-collapsed user text
_DIGEST_HEX = 16
_DIGEST_WINDOW = 32_768  # the digest covers the first and last 32k characters (whole text if shorter)
MAX_NORMALIZED_CHARS = _HEAD_CHARS + 3 + _TAIL_CHARS + len(_DIGEST_MARK) + _DIGEST_HEX
"""Upper bound on ``len(normalize(text))`` (4,117 characters), whatever the input size."""

_DIGEST_PIECE = 4096
"""The digest's features are read this many characters at a time. Each regular expression over a text is
one C call that holds the GIL for its whole length: over 64 KB of a text it finds nothing in (a long run of
"ab ab ...") that is up to 60 ms, and the event loop, though the digest runs on a worker thread, waits that
long for its turn. Over 4 KB it is a few milliseconds."""

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The compact form stored with a cache entry (``CachedAnswer.prompt``) and compared by ``compatible``.

    NFKC-normalised (full-width digits and letters become ASCII), whitespace collapsed to single spaces,
    case *kept* (capitalisation is how proper nouns are recognised on the stored side). Texts longer than
    4,096 characters keep their first and last 2,048 characters joined by `` … `` plus a 16-hex digest of
    the numbers and salient terms of the whole text (of its first and last 32k characters beyond 64k), so
    two long prompts that differ only in the middle are still told apart; the result is never longer than
    ``MAX_NORMALIZED_CHARS``. Idempotent.
    """
    if _DIGEST_MARK in text:  # already normalised (and cut): keep it as is
        return text
    if len(text) > 4 * _DIGEST_WINDOW:
        # Bounded work for a multi-megabyte prompt: only its first and last 64k characters are flattened
        # (one whitespace collapse over a megabyte is a single 130 ms C call that holds the GIL), which
        # is more than the head, tail and digest below ever read.
        head, tail = _flatten(text[: 2 * _DIGEST_WINDOW]), _flatten(text[-2 * _DIGEST_WINDOW :])
        flat = head + " " + tail
        flat_for_digest = head[:_DIGEST_WINDOW] + " " + tail[-_DIGEST_WINDOW:]
    else:
        flat = _flatten(text)
        if len(flat) <= _HEAD_CHARS + _TAIL_CHARS:
            return flat
        big = len(flat) > 2 * _DIGEST_WINDOW
        flat_for_digest = flat[:_DIGEST_WINDOW] + " " + flat[-_DIGEST_WINDOW:] if big else flat
    # not memoised (one-off and large), and read in pieces: see ``_DIGEST_PIECE``
    feats = [_features.__wrapped__(piece) for piece in _pieces(flat_for_digest, _DIGEST_PIECE)]
    material = "\x1f".join(
        [
            *sorted(n for f in feats for n in f.numbers.elements()),
            "\x1e",
            *sorted({" ".join(t) for f in feats for t in f.terms}),
            "\x1e",
            *sorted({p for f in feats for p in f.phrases}),
            "\x1e",
            str(sum(f.negation for f in feats) % 2),
        ]
    )
    digest = hashlib.blake2b(material.encode(), digest_size=_DIGEST_HEX // 2).hexdigest()
    return f"{flat[:_HEAD_CHARS]} … {flat[-_TAIL_CHARS:]}{_DIGEST_MARK}{digest}"


def _pieces(flat: str, size: int) -> list[str]:
    """``flat`` cut into pieces of at most ``size`` characters, at a space in the second half of each piece
    where there is one (words stay whole). Deterministic: equal texts give equal pieces."""
    out: list[str] = []
    a = 0
    while len(flat) - a > size:
        cut = flat.rfind(" ", a + size // 2, a + size)
        b = cut if cut > 0 else a + size
        out.append(flat[a:b])
        a = b
    out.append(flat[a:])
    return out


def _flatten(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def compatible(query_text: str, stored: str) -> bool:
    """True when serving the answer stored for ``stored`` (a ``normalize`` output, or raw text) to
    ``query_text`` is safe on the lexical side. Symmetric. See the module docstring for the checks."""
    q_norm = normalize(query_text)
    s_norm = normalize(stored)
    if q_norm == s_norm:
        return True
    q_digest, s_digest = _digest(q_norm), _digest(s_norm)
    if q_digest != s_digest:  # one side cut and the other not, or two long texts with different content
        return False
    return _compatible_features(_features(_body(q_norm)), _features(_body(s_norm)))


def hit_ok(similarity: float, threshold: float, query_text: str, stored: str) -> bool:
    """The whole hit rule: cosine at or above ``threshold`` *and* lexically compatible."""
    return similarity >= threshold and compatible(query_text, stored)


# --------------------------------------------------------------------------------------------------
# features of one text


@dataclass(frozen=True, slots=True)
class _Features:
    stems: frozenset[str]  # every word, lower-cased and stemmed: what "occurs in the text" means
    initials: str  # first letters of the content words: "artificial intelligence" spells "ai"
    flat: str  # lower-cased text with quotes removed, for substring checks of phrases
    numbers: Counter[str]  # canonical numeric values (multiset)
    number_order: tuple[str, ...]
    noncommutative: bool
    terms: frozenset[tuple[str, ...]]  # salient terms as stemmed word tuples (entities, gazetteer hits)
    phrases: frozenset[str]  # code identifiers and quoted strings, lower-cased, matched as substrings
    negation: int  # parity of negation cues
    contrasts: tuple[tuple[int, frozenset[int]], ...]  # (family, members used) for each family present
    directed: frozenset[tuple[tuple[str, ...], tuple[str, ...]]]  # (A, B) from "A to B", "A than B"
    script: str
    language: str | None


def _body(norm: str) -> str:
    i = norm.find(_DIGEST_MARK)
    return norm if i < 0 else norm[:i]


def _digest(norm: str) -> str:
    i = norm.find(_DIGEST_MARK)
    return "" if i < 0 else norm[i + len(_DIGEST_MARK) :]


# Words: letters (any script), inner apostrophes/digits/underscores, and the C++ / C# spellings.
_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019]*[^\W_])?(?:\+\+|#)?")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(k\b|st\b|nd\b|rd\b|th\b)?", re.IGNORECASE)
_ARITH = re.compile(r"(?<=[\d)])\s*([-+*/\u00d7\u00f7^x]|\*\*)\s*(?=[\d(])")  # x, multiplication sign
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|“([^”\n]{1,200})”|`([^`\n]{1,200})`|(?<!\w)'([^'\n]{2,200})'(?!\w)")
# Every alternative starts at the start of a word (the look-behind): without it the engine retried each
# alternative at every position inside one long token, each try scanning to its end, which made a single
# 64 KB word cost 45 s (quadratic). Anchored, each word is scanned a bounded number of times: linear.
_CODE = re.compile(
    r"(?<![\w.])(?:"
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?"  # dotted: os.path.join, file.txt, obj.method()
    r"|[A-Za-z_]\w*\(\)"  # call: len()
    r"|[A-Za-z][A-Za-z0-9]*_\w+"  # snake_case
    r"|[a-z]+[A-Z]\w*"  # camelCase / iPhone
    r")"
    r"|(?<!\S)--?[a-z][\w-]+"  # command-line flags
)
_SENTENCE_END = frozenset(".!?:;\n¿¡•*-#>(\"'“")


def _split(words: str) -> list[str]:
    """Word lists are written as one string (readable, diff-friendly), split once at import."""
    return words.split()


_NEGATIONS = frozenset(
    _split(
        "not no never without cannot nothing none nobody neither nor nowhere unable dont cant wont isnt "
        "arent wasnt werent doesnt didnt shouldnt wouldnt couldnt havent hasnt hadnt mustnt neednt aint"
    )
)
_NOT_NEGATING = (("not", "only"), ("no", "matter"), ("no", "doubt"), ("not", "just"))

_NUM_UNITS = {
    w: i
    for i, w in enumerate(
        _split(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen"
        )
    )
}
_NUM_TENS = {w: 10 * (i + 2) for i, w in enumerate(_split("twenty thirty forty fifty sixty seventy eighty ninety"))}
_NUM_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Lower-case, drop a possessive, fold plurals: -ies→y, then a final -s, then a final -e, so "case" /
    "cases", "box" / "boxes", "city" / "cities" meet. Not a linguistic stem, only the same on both sides."""
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us")):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def _gaz(*groups: str) -> frozenset[str]:
    return frozenset(_stem(w) for g in groups for w in g.split())


def _with_units(words: frozenset[str]) -> frozenset[str]:
    return words | frozenset(_UNIT_CANON.get(w, w) for w in words)


# Terms people type in lower case whose swap changes the answer. Multi-word names are matched word by
# word (each word a term), which is enough for "new york" vs "new delhi" (york / delhi differ).
_GAZETTEER = _gaz(
    # countries, regions
    "afghanistan albania algeria argentina armenia australia austria azerbaijan bangladesh belarus belgium "
    "bolivia bosnia brazil bulgaria cambodia cameroon canada chile china colombia croatia cuba cyprus czechia "
    "denmark ecuador egypt england estonia ethiopia finland france germany ghana greece hungary iceland india "
    "indonesia iran iraq ireland israel italy jamaica japan kazakhstan kenya korea kuwait laos latvia lebanon "
    "libya lithuania luxembourg madagascar malaysia mexico mongolia morocco myanmar nepal netherlands holland "
    "nigeria norway pakistan panama paraguay peru philippines poland portugal qatar romania russia rwanda "
    "scotland senegal serbia singapore slovakia slovenia somalia spain sudan sweden switzerland syria taiwan "
    "tanzania thailand tunisia uganda ukraine uruguay uzbekistan venezuela vietnam wales yemen zambia zimbabwe "
    "usa uk uae eu europe asia africa america antarctica oceania",
    # cities
    "paris london berlin madrid rome lisbon amsterdam brussels vienna prague warsaw budapest athens dublin "
    "oslo stockholm copenhagen helsinki moscow kyiv kiev istanbul ankara cairo nairobi lagos johannesburg "
    "tokyo osaka kyoto beijing shanghai seoul delhi mumbai bangalore karachi dhaka bangkok jakarta manila "
    "singapore sydney melbourne auckland toronto vancouver montreal chicago boston seattle miami dallas houston "
    "denver atlanta philadelphia york angeles francisco washington barcelona munich milan venice florence "
    "zurich geneva edinburgh manchester dubai doha riyadh tehran baghdad lima bogota santiago havana "
    "ottawa canberra wellington hanoi",
    # languages and nationalities
    "english french spanish german italian portuguese dutch swedish norwegian danish finnish polish czech "
    "russian ukrainian greek turkish arabic hebrew persian hindi urdu bengali chinese mandarin cantonese "
    "japanese korean vietnamese thai indonesian swahili latin american british canadian australian mexican "
    "brazilian indian african european asian",
    # programming languages, tools, platforms, formats
    "python javascript typescript java kotlin swift rust golang ruby php perl scala haskell elixir erlang "
    "clojure lua julia matlab fortran cobol c++ c# dart groovy bash zsh powershell sql mysql postgres "
    "postgresql sqlite mongodb redis cassandra elasticsearch kafka rabbitmq vue angular svelte jquery "
    "django flask fastapi rails laravel nextjs nodejs deno npm pip conda docker "
    "kubernetes helm terraform ansible nginx apache linux windows macos ubuntu debian fedora centos android "
    "ios git github gitlab aws azure gcp numpy pandas pytorch tensorflow keras sklearn html css json "
    "yaml toml xml csv pdf http https tcp udp ssh ftp dns jwt oauth graphql grpc websocket vim emacs "
    "vscode chrome firefox safari iphone ipad mac",
    # currencies
    "usd eur gbp jpy cny inr chf cad aud dollar euro yen rupee peso yuan franc bitcoin ethereum",
    # units that are never incidental (the others count only next to a number: "a bit", "a cup of tea")
    "km kilometer kilometre mile kg kilogram lb lbs celsius fahrenheit kelvin mph kph kmh kwh ghz mhz kb mb gb "
    "tb kib mib gib mg mcg ml milliliter liter litre gallon centimeter millimeter",
    # time
    "january february march april june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday summer autumn winter",
    # science
    "mercury venus mars jupiter saturn uranus neptune pluto hydrogen helium oxygen nitrogen carbon sodium "
    "potassium calcium copper zinc gold silver uranium lithium magnesium chlorine sulfur",
    # animals and foods commonly swapped in "can my X eat Y" questions
    "dog dogs cat cats puppy kitten horse rabbit hamster parrot bird fish cow pig sheep goat chicken "
    "grape raisin chocolate onion garlic avocado banana apple strawberry peanut almond milk cheese egg rice",
)
# "may" (month), "go" (language), "turkey" etc. are left out: too often ordinary words in lower case.
_TIME_UNITS = _gaz(
    "second minute hour day week month year decade century meter metre cm mm inch foot feet yard gram pound "
    "ounce oz ton tonne cup tablespoon tbsp teaspoon tsp pint quart watt kilowatt volt amp ampere ohm joule "
    "calorie kcal hertz byte bit percent acre hectare"
)
# Spellings of one unit, so "5 km" and "5 kilometres" carry the same value.
_UNIT_CANON = {
    _stem(w): canon
    for canon, spellings in {
        "km": "km kms kilometer kilometre",
        "mile": "mile mi",
        "m": "m meter metre",
        "kg": "kg kilo kilogram",
        "lb": "lb lbs pound",
        "g": "g gram",
        "l": "l liter litre",
        "ml": "ml milliliter millilitre",
        "h": "h hr hrs hour",
        "min": "min minute",
        "s": "s sec second",
        "c": "c celsius",
        "f": "f fahrenheit",
        "%": "% percent",
        "cm": "cm centimeter centimetre",
        "mm": "mm millimeter millimetre",
        "usd": "usd dollar $",
        "eur": "eur euro €",
        "gbp": "gbp £",
        "jpy": "jpy yen ¥",
        "am": "am a.m.",
        "pm": "pm p.m.",
        "k": "k",
        "day": "day d",
        "week": "week wk",
        "month": "month mo",
        "year": "year yr",
        "decade": "decade",
        "century": "century centurie",
        "°f": "f",
        "°c": "c",
    }.items()
    for w in spellings.split()
}
_NOT_ENTITIES = frozenset({"i", "i'm", "i've", "i'd", "i'll", "ok", "okay", "a", "earth"})

# Contrast families: each family lists mutually exclusive meanings, each meaning a set of synonyms. When
# both texts use a family they must share at least one meaning ("symptoms" vs "causes" of an illness).
_CONTRAST_SPEC: tuple[tuple[str, ...], ...] = (
    (
        "symptom symptoms sign signs",
        "cause causes caused causing",
        "treatment treatments treat treated cure cures therapy",
        "prevention prevent prevented preventing",
        "diagnosis diagnose diagnosed",
        "risk risks",
        "complication complications",
        "prognosis",
    ),
    (
        "advantage advantages benefit benefits pro pros upside upsides",
        "disadvantage disadvantages drawback drawbacks con cons downside downsides risk risks danger dangers harm",
    ),
    ("boiling boil", "melting melt", "freezing freeze"),
    (
        "increase increases increasing raise raising grow",
        "decrease decreases decreasing lower lowering reduce reducing shrink",
    ),
    ("buy buying purchase purchasing", "sell selling"),
    ("encrypt encrypting encryption", "decrypt decrypting decryption"),
    ("encode encoding", "decode decoding"),
    ("compress compressing compression zip", "decompress decompressing decompression unzip extract"),
    ("install installing installation", "uninstall uninstalling remove removing"),
    ("upload uploading", "download downloading"),
    ("import importing", "export exporting"),
    ("minimum min smallest least lowest", "maximum max largest biggest most highest"),
    ("first earliest", "last latest final"),
    ("before", "after"),
    ("start starting begin beginning", "stop stopping end ending"),
    ("open opening", "close closing"),
    ("enable enabling", "disable disabling"),
    ("add adding insert inserting append", "delete deleting remove removing drop dropping"),
    ("push pushing", "pull pulling"),
    ("sort sorting sorted", "reverse reversing reversed", "shuffle shuffling", "filter filtering"),
    ("ascending", "descending"),
    ("best", "worst"),
    ("better", "worse"),
    ("more", "less fewer"),
    ("faster quicker", "slower"),
    ("cheaper", "expensive pricier"),
    ("hot hotter", "cold colder"),
    ("left", "right"),
    ("north northern", "south southern", "east eastern", "west western"),
    ("male men man boys boy", "female women woman girls girl"),
    ("adult adults", "child children kid kids baby babies toddler"),
    ("safe harmless", "unsafe dangerous harmful toxic poisonous"),
    ("legal", "illegal"),
    ("true", "false"),
    ("past", "future"),
    ("morning", "evening night"),
    ("read reading", "write writing"),
    ("connect connecting", "disconnect disconnecting"),
    ("join joining merge merging", "split splitting"),
    ("lowercase", "uppercase"),
    ("horizontal horizontally", "vertical vertically"),
    ("inner", "outer"),
    ("synchronous sync", "asynchronous async"),
    ("singular", "plural"),
    ("gain gaining", "lose losing loss"),
    ("hire hiring", "fire firing"),
    ("weekday weekdays", "weekend weekends"),
    ("debit", "credit"),
    (
        "plus add sum",
        "minus subtract difference",
        "times multiply multiplied product",
        "divided divide quotient",
        "power exponent",
        "squared square",
        "cubed cube",
    ),
    ("radius", "diameter"),
    ("up upward", "down downward"),
    ("mean average", "median", "mode"),
    ("area", "perimeter circumference", "volume"),
    ("derivative differentiate", "integral integrate"),
    ("mitosis", "meiosis"),
    ("virus viral", "bacteria bacterial"),
)


_GAZETTEER = _with_units(_GAZETTEER)
_TIME_UNITS = _with_units(_TIME_UNITS)


def _build_contrasts() -> dict[str, tuple[tuple[int, int], ...]]:
    """word stem -> every (family, meaning) it belongs to ("remove": uninstall *and* delete)."""
    table: dict[str, tuple[tuple[int, int], ...]] = {}
    for fam, members in enumerate(_CONTRAST_SPEC):
        for mem, words in enumerate(members):
            for w in words.split():
                table[_stem(w)] = (*table.get(_stem(w), ()), (fam, mem))
    return table


def _arith_family() -> dict[str, tuple[int, int]]:
    """Operator symbols between numbers -> the arithmetic family's meanings (words are in the table)."""
    fam = next(i for i, f in enumerate(_CONTRAST_SPEC) if f[0].startswith("plus "))
    symbols = {"+": 0, "-": 1, "*": 2, "\u00d7": 2, "x": 2, "/": 3, "÷": 3, "^": 4, "**": 4}
    return {sym: (fam, mem) for sym, mem in symbols.items()}


_DIRECTION_WORDS = frozenset({"to", "into", "than", "->", "→", "vs"})
_NONCOMMUTATIVE = frozenset({"-", "/", "÷", "^", "**", "minus", "subtract", "divided", "divide", "power"})

_LANG_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        _split(
            "the is are what how why which who does do can you your my of and to in for with it this that "
            "from should would please as an at on by be or if so no up me we he she all any about like use "
            "make get more some only also just not but have has will when where there their they them than "
            "then into out over between without before after while each per"
        )
    ),
    "es": frozenset(
        _split(
            "el la los las es qué que cómo como cuál cuáles por para un una y con mi del está son puedo hacer "
            "se dónde cuánto cuántos de lo al muy pero más porque también hay"
        )
    ),
    "fr": frozenset(
        _split(
            "le la les est quel quelle quels comment des du pour un une et avec mon je vous qu'est-ce qu'est "
            "ce sont dans pourquoi faire combien où que qui de la en sur pas c'est est-ce il elle nous mais "
            "ou faut"
        )
    ),
    "de": frozenset(
        _split(
            "der die das ist wie was und ein eine für mit ich nicht zu den dem von ist sind kann warum welche "
            "wo wieviel viele auf auch mein einen im ich"
        )
    ),
    "it": frozenset(
        _split(
            "il lo gli è come che cosa di del per un una e con mio sono della qual quale perché fare quanto "
            "dove di non cos'è anche ma sul"
        )
    ),
    "pt": frozenset(
        _split(
            "o os as é como que de do da para um uma e com meu você não são qual por quanto onde fazer posso "
            "também mas muito está"
        )
    ),
    "nl": frozenset(_split("de het een is hoe wat van voor en met ik niet zijn waarom welke kan waar")),
}
# A word counts for a language only if it is not a function word of English too ("de", "la", "a" are).
# Single letters ("o", "e", "y") are dropped too: "Big O notation" is not Portuguese.
_LANG_DISTINCT: dict[str, frozenset[str]] = {
    lang: frozenset(w for w in words if len(w) > 1 or not w.isascii())
    - (_LANG_WORDS["en"] if lang != "en" else frozenset())
    for lang, words in _LANG_WORDS.items()
}


def _canon(word: str) -> str:
    """Stem, then the unit's canonical name if it is one ("kilometres" -> "km")."""
    st = _stem(word)
    return _UNIT_CANON.get(st, st)


_CONTRASTS = _build_contrasts()
_ARITH_OPS = _arith_family()


def _canonical_number(raw: str, suffix: str | None) -> str:
    s = raw
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    elif "," in s and "." not in s and re.fullmatch(r"\d+,\d{1,2}", s):
        s = s.replace(",", ".")  # decimal comma: 3,5
    if s.count(".") > 1 or "," in s:
        return s  # a version or a list written without spaces: compare as written
    try:
        value = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        return s
    if suffix and suffix.lower() == "k":
        value *= 1000
    text = format(value.normalize(), "f")
    return text + "th" if suffix and suffix.lower() in ("st", "nd", "rd", "th") else text  # "10th" is not "10"


_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _script(text: str) -> str:
    if text.isascii():
        return "latin" if _ASCII_LETTER.search(text) else ""
    counts: Counter[str] = Counter()
    for ch in text:
        o = ord(ch)
        if o < 0x250:
            if ch.isalpha():
                counts["latin"] += 1
        elif 0x370 <= o < 0x400:
            counts["greek"] += 1
        elif 0x400 <= o < 0x530:
            counts["cyrillic"] += 1
        elif 0x590 <= o < 0x600:
            counts["hebrew"] += 1
        elif 0x600 <= o < 0x780:
            counts["arabic"] += 1
        elif 0x900 <= o < 0xE00:
            counts["indic"] += 1
        elif 0xE00 <= o < 0xE80:
            counts["thai"] += 1
        elif 0x3040 <= o < 0x3100:
            counts["kana"] += 1
        elif 0xAC00 <= o < 0xD7B0 or 0x1100 <= o < 0x1200:
            counts["hangul"] += 1
        elif 0x4E00 <= o < 0xA000 or 0x3400 <= o < 0x4DC0:
            counts["han"] += 1
    if not counts:
        return ""
    if counts["kana"] and counts["kana"] + counts["han"] >= max(counts.values()):
        return "kana"  # Japanese mixes kana and kanji; Chinese has no kana
    return counts.most_common(1)[0][0]


def _language(words: list[str]) -> str | None:
    """en, es, fr, de, it, pt, nl from function words; "xx" for "not English, not sure which" (accented words,
    no English function word); ``None`` when unsure. ``_same_language`` treats "xx" as any non-English."""
    scores = {lang: sum(1 for w in words if w in vocab) for lang, vocab in _LANG_DISTINCT.items()}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= 2 and top >= 2 * second:
        return best
    if top >= 1 and second == 0 and len(words) <= 6:
        return best
    accented = sum(1 for w in words if not w.isascii() and _LATIN_ACCENT.search(w))
    if scores["en"] == 0 and accented and (top >= 1 or accented >= 2):
        return "xx"
    return None


_LATIN_ACCENT = re.compile(r"[à-öø-ÿœß]")


def _same_language(a: str | None, b: str | None) -> bool:
    if a is None or b is None or a == b:
        return True
    return "xx" in (a, b) and "en" not in (a, b)


def _written_numbers(lower_words: list[str]) -> tuple[list[str], bool]:
    """Values of number words ("twenty-three" → 23, "one hundred and five" → 105); the flag says a lone
    "one" was seen (counted only when the text has other numbers: "which one" is not a number)."""
    out: list[str] = []
    lone_one = False
    total = current = 0
    in_num = False
    words_in = 0
    for i, w in enumerate([*lower_words, ""]):
        if w in _NUM_UNITS or w in _NUM_TENS:
            current += _NUM_UNITS.get(w, 0) + _NUM_TENS.get(w, 0)
            in_num = True
            words_in += 1
            continue
        if w in _NUM_SCALES and (in_num or w == "hundred" or w == "thousand"):
            scale = _NUM_SCALES[w]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
            in_num = True
            words_in += 1
            continue
        if w == "and" and in_num and i + 1 < len(lower_words):
            nxt = lower_words[i + 1]
            if nxt in _NUM_UNITS or nxt in _NUM_TENS:
                continue
        if in_num:
            if words_in == 1 and total == 0 and current == 1 and lower_words[i - 1] == "one":
                lone_one = True
            else:
                nxt = lower_words[i + 1] if w in ("degree", "degrees") and i + 1 < len(lower_words) else w
                unit = _UNIT_CANON.get(_stem(nxt)) if nxt else None
                out.append(f"{total + current} {unit}" if unit else str(total + current))
        total = current = 0
        in_num = False
        words_in = 0
    return out, lone_one


def _initial_positions(text: str, spans: list[tuple[int, int]]) -> list[bool]:
    """For each word span, whether it starts a sentence (nothing but punctuation/space before it)."""
    flags = []
    for start, _ in spans:
        j = start - 1
        while j >= 0 and text[j] in " \t\u00a0":
            j -= 1
        flags.append(j < 0 or text[j] in _SENTENCE_END)
    return flags


@lru_cache(maxsize=8192)
def _features(text: str) -> _Features:
    quoted = []
    for m in _QUOTED.finditer(text):
        q = next(g for g in m.groups() if g is not None)
        quoted.append(_WS.sub(" ", q.lower()).strip(" .,!?"))
    unquoted = _QUOTED.sub(" ", text)
    flat = _WS.sub(" ", re.sub(r"[\"“”`']", " ", text.lower()))

    spans: list[tuple[int, int]] = []
    words: list[str] = []
    for m in _WORD.finditer(text):
        spans.append(m.span())
        words.append(m.group())
    lower = [w.lower().replace("\u2019", "'") for w in words]
    stemmed = [_canon(w) for w in lower]
    stems = frozenset(stemmed) | frozenset(lower) | frozenset(_stem(w) for w in lower)

    # numbers, each with its unit when one is attached ("5 km" and "5 miles" differ, "5 km" = "five kilometres")
    numbers: list[str] = []
    for m in _NUMBER.finditer(text):
        value = _canonical_number(m.group(1), m.group(2))
        before = text[max(0, m.start() - 1) : m.start()]
        unit = _UNIT_CANON.get(before) or _unit_after(text, m.end())
        numbers.append(f"{value} {unit}" if unit else value)
    split_words = [p for w in lower for p in w.split("-") if p]
    written, lone_one = _written_numbers(split_words)
    numbers.extend(written)
    if lone_one and numbers:
        numbers.append("1")
    stems |= {n.split(" ", 1)[1] for n in numbers if " " in n}  # "15%" holds the unit "%" that "percent" names
    ops = {m.group(1) for m in _ARITH.finditer(text)}
    noncommutative = bool(ops & _NONCOMMUTATIVE) or any(w in _NONCOMMUTATIVE for w in lower)

    # salient terms
    initial = _initial_positions(text, spans)
    alpha_words = [w for w in words if w[0].isalpha()]
    capitalised = sum(1 for w in alpha_words if w[0].isupper())
    title_case = len(alpha_words) >= 3 and capitalised / len(alpha_words) > 0.6
    terms: set[tuple[str, ...]] = set()
    run: list[str] = []
    for idx, (w, lw) in enumerate(zip(words, lower, strict=True)):
        is_entity = False
        if lw not in _NOT_ENTITIES:
            if len(w) >= 2 and w.isupper() and any(c.isalpha() for c in w):
                is_entity = True  # acronym: USA, HTTP, even at a sentence start
            elif (len(w) == 1 and w.isupper()) or (w[0].isupper() and not title_case):
                is_entity = not initial[idx]
            elif any(c.isupper() for c in w[1:]) and w[0].islower():
                is_entity = True  # iPhone, eBay
        if is_entity:
            run.append(_canon(w))
            continue
        if run:
            terms.add(tuple(run))
            run = []
        st = stemmed[idx]
        if (
            st in _GAZETTEER
            or lw in _GAZETTEER
            or (st in _TIME_UNITS and idx > 0 and _follows_number(text, spans[idx][0]))
        ):
            terms.add((st,))
    if run:
        terms.add(tuple(run))
    # a multi-word entity ("New York") occurs on the other side when each of its words does (``_term_in``)
    phrases = {p for p in quoted if p}
    phrases.update(m.group().lower() for m in _CODE.finditer(unquoted))

    # negation
    neg = 0
    for i, lw in enumerate(lower):
        bare = lw.replace("'", "")
        if bare in _NEGATIONS or lw.endswith("n't"):
            if i + 1 < len(lower) and (lw, lower[i + 1]) in _NOT_NEGATING:
                continue
            neg += 1

    # contrasts (words, plus arithmetic operator symbols)
    used: dict[int, set[int]] = {}
    for st in stemmed:
        for fam, mem in _CONTRASTS.get(st, ()):
            used.setdefault(fam, set()).add(mem)
    for op in ops:
        fam, mem = _ARITH_OPS[op]
        used.setdefault(fam, set()).add(mem)
    contrasts = tuple(sorted((f, frozenset(ms)) for f, ms in used.items()))

    # direction: salient terms or numbers on both sides of to / into / than / ->
    directed = _directed_pairs(text, spans, lower, stemmed, terms) | _than_pairs(lower, stemmed)

    lang_words = [w.lower() for w in _WORD.findall(unquoted)]
    initials = "".join(w[0] for w in lower if w not in _FILLER)
    return _Features(
        stems=stems,
        initials=initials,
        flat=flat,
        numbers=Counter(numbers),
        number_order=tuple(numbers),
        noncommutative=noncommutative,
        terms=frozenset(terms),
        phrases=frozenset(phrases),
        negation=neg % 2,
        contrasts=contrasts,
        directed=directed,
        script=_script(unquoted),
        language=_language(lang_words),
    )


_NUM_BEFORE = re.compile(
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|"
    r"forty|fifty|hundred|a|an|per|each|every|many|much|couple of|few))\s*-?\s*$",
    re.IGNORECASE,
)


_UNIT_AFTER = re.compile(r"[\s-]?(?:degrees?\s)?(°[cf]|%|[^\W\d_]+)", re.IGNORECASE)


def _unit_after(text: str, end: int) -> str | None:
    """The canonical unit written right after a number ("5 km", "10-minute", "100 degrees Fahrenheit")."""
    m = _UNIT_AFTER.match(text, end)
    return _UNIT_CANON.get(_stem(m.group(1))) if m else None


def _follows_number(text: str, start: int) -> bool:
    """ "5 days", "per day", "a week", "how many days": the unit matters (the other side may carry it as the
    unit of a number value, which counts as occurring there)."""
    return bool(_NUM_BEFORE.search(text[max(0, start - 16) : start]))


def _directed_pairs(
    text: str, spans: list[tuple[int, int]], lower: list[str], stemmed: list[str], terms: set[tuple[str, ...]]
) -> frozenset[tuple[tuple[str, ...], tuple[str, ...]]]:
    salient_words = {w for t in terms for w in t}
    marks: list[tuple[int, str]] = []  # (position, kind) kind: stemmed term or the arrow
    for (start, _), lw, st in zip(spans, lower, stemmed, strict=True):
        if st in salient_words:
            marks.append((start, st))
        elif lw in _DIRECTION_WORDS:
            marks.append((start, "\x00"))
    for m in re.finditer(r"->|→", text):
        marks.append((m.start(), "\x00"))
    marks.sort()
    pairs: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for i in range(1, len(marks) - 1):
        if marks[i][1] != "\x00":
            continue
        left, right = marks[i - 1][1], marks[i + 1][1]
        if left != "\x00" and right != "\x00" and left != right:
            pairs.add(((left,), (right,)))
    return frozenset(pairs)


_FILLER = frozenset(_split("a an the of and or to in on for with is are be by at as"))


def _than_pairs(lower: list[str], stemmed: list[str]) -> frozenset[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(X, Y) from "X bigger than Y" / "X more expensive than Y", so the reversed comparison differs."""
    pairs = set()
    for i, w in enumerate(lower):
        if w != "than" or i < 2 or i + 1 >= len(lower):
            continue
        j = i - 1
        if j >= 1 and lower[j - 1] in ("more", "less"):
            j -= 2
        elif lower[j].endswith("er"):
            j -= 1
        while j >= 0 and lower[j] in _FILLER:
            j -= 1
        k = i + 1
        while k < len(lower) and lower[k] in _FILLER:
            k += 1
        if j >= 0 and k < len(lower) and stemmed[j] != stemmed[k]:
            pairs.add(((stemmed[j],), (stemmed[k],)))
    return frozenset(pairs)


def _term_in(term: tuple[str, ...], other: _Features) -> bool:
    if len(term) == 1 and 2 <= len(term[0]) <= 5 and term[0].isalpha() and term[0] in other.initials:
        return True  # an acronym spelled out on the other side: "AI" / "artificial intelligence"
    return all(w in other.stems or _prefix_in(w, other.stems) for w in term)


def _prefix_in(word: str, stems: frozenset[str]) -> bool:
    """A long shared prefix counts as the same name ("Pythagorean" / "Pythagoras", "Japanese" / "Japan" do
    not: 5 letters); kept long (>= 6 and >= 3/4 of the shorter word) so "Austria" / "Australia" differ."""
    if len(word) < 6:
        return False
    for s in stems:
        n = min(len(word), len(s))
        if n < 6 or s[:6] != word[:6]:
            continue
        k = 6
        while k < n and s[k] == word[k]:
            k += 1
        if k >= 0.75 * n:
            return True
    return False


def _compatible_features(a: _Features, b: _Features) -> bool:
    if a.script != b.script and a.script and b.script:
        return False
    if not _same_language(a.language, b.language):
        return False
    if a.numbers != b.numbers:
        return False
    if (a.noncommutative or b.noncommutative) and a.number_order != b.number_order:
        return False
    if a.negation != b.negation:
        return False
    for x, y in ((a, b), (b, a)):
        if not all(_term_in(t, y) for t in x.terms):
            return False
        if not all(p in y.flat for p in x.phrases):
            return False
    if a.contrasts != b.contrasts:
        fams_a, fams_b = dict(a.contrasts), dict(b.contrasts)
        for fam in fams_a.keys() & fams_b.keys():
            if not fams_a[fam] & fams_b[fam]:  # "symptoms" vs "causes"; "start ... without stopping" vs "stop" is fine
                return False
    return not any((rhs, lhs) in b.directed and (lhs, rhs) not in b.directed for (lhs, rhs) in a.directed)
