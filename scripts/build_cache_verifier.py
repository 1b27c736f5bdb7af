"""Generate same-question / different-question pairs and train the cache verifier (semrouter/cache/verify.py).

    python scripts/build_cache_verifier.py [--out semrouter/cache/assets/verifier.npz] [--cache-dir /tmp/cache_verifier]

Where the training pairs come from (none from the out-of-source evaluation set
``tests/data/oos/cache_pairs.jsonl``, which this script never reads):

* **groups written by hand** (``data/cache_verifier/*.jsonl``, six authors, one file each; its README says
  how they were written and kept apart from the evaluation set): free rewordings (synonyms, another
  structure, terse, chatty, typos) and near misses that keep most words and change what is asked, in ten
  families. Until these, every paraphrase the verifier learnt from was generated;
* **templates** (this file): short, clean questions built from slot lists, one frame per near-miss family
  (operation flipped, role changed, number relation changed, entity swapped within a class, qualifier
  changed, another attribute of the same subject, negation, direction), each with hand-written
  alternative wordings as paraphrases;
* **MMLU questions** (``../shared/data/domain/mmlu_train.jsonl``, the short ones): paraphrases made by
  style transforms, hard negatives made by swapping a number or a capitalised name for another question's,
  and different questions that happen to be each other's nearest neighbour;
* **the project's tuning pairs** (``tests/data/cache_pairs.jsonl``);
* **the domain classifier's paraphrase groups** (``tests/data/oos/domain_paraphrase.jsonl``, written for
  another evaluation by another helper): four free rewordings of one question per group, the kind of
  paraphrase templates cannot make (synonyms, reordered clauses, another register).

Every paraphrase also comes in generated styles: terse (a search query), chatty (greeting and padding),
typo-ridden (one or two character edits) and re-cased. The model is a 16-unit tanh MLP on
:func:`semrouter.cache.verify.pair_features`. Held out to choose the threshold, by group so a group's pairs
never straddle the split: one hand-written file whole (``--val-source``, another author than the training
files) and a hash-chosen 20% of the generated groups. The threshold is the lowest score whose false-hit rate
on those held-out near misses is at most ``--target-fpr`` (2%). The shipped weights are the ones trained
without the held-out groups, so the threshold was chosen on pairs the model never saw. Embeddings are cached
under ``--cache-dir``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from semrouter.cache.match import normalize  # noqa: E402
from semrouter.cache.verify import ASSET, FEATURES, pair_features  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"

Group = dict[str, Any]  # {"original", "paraphrases": [...], "near": [(text, family)], "source"}

# ---------------------------------------------------------------------------------------------------
# templated frames

OPS = [
    ("enable", "disable"),
    ("turn on", "turn off"),
    ("install", "uninstall"),
    ("start", "stop"),
    ("open", "close"),
    ("lock", "unlock"),
    ("add", "remove"),
    ("connect", "disconnect"),
    ("show", "hide"),
    ("import", "export"),
    ("upload", "download"),
    ("increase", "decrease"),
    ("activate", "deactivate"),
    ("archive", "unarchive"),
    ("pin", "unpin"),
    ("expand", "collapse"),
    ("mount", "unmount"),
    ("encrypt", "decrypt"),
    ("compress", "extract"),
    ("share", "unshare"),
    ("follow", "unfollow"),
    ("back up", "restore"),
    ("schedule", "cancel"),
    ("join", "leave"),
    ("sign in to", "sign out of"),
]
FEATURES_OBJ = [
    "notifications",
    "location services",
    "automatic updates",
    "the firewall",
    "bluetooth",
    "screen time",
    "cookies",
    "the VPN",
    "keyboard sounds",
    "the guest account",
    "parental controls",
    "autocorrect",
    "the spell checker",
    "cloud sync",
    "read receipts",
    "the microphone",
    "a shared folder",
    "an extension",
    "a printer",
    "an email account",
    "a calendar",
    "the hotspot",
    "a widget",
    "a plugin",
    "the backup drive",
]
PLATFORMS = [
    "Windows 11",
    "an iPhone",
    "Chrome",
    "a Samsung TV",
    "Slack",
    "Ubuntu",
    "a Kindle",
    "Firefox",
    "a Pixel phone",
    "macOS",
    "Microsoft Teams",
    "Zoom",
    "a Chromebook",
    "Android",
    "Discord",
    "Safari",
    "an Xbox",
    "Spotify",
    "Dropbox",
    "Gmail",
    "Telegram",
    "a Roku",
    "Fedora",
    "an iPad",
    "Word",
]
OP_PARA = [
    "What are the steps to {op} {f} on {p}?",
    "{op} {f} {p}",
    "Is there a way to {op} {f} on {p}?",
    "On {p}, how can I {op} {f}?",
    "How can {f} be {opd} on {p}?",
    "I want to {op} {f} on {p}. How?",
]
OP_PAST = {
    "enable": "enabled",
    "disable": "disabled",
    "turn on": "turned on",
    "turn off": "turned off",
    "install": "installed",
    "uninstall": "uninstalled",
    "start": "started",
    "stop": "stopped",
    "open": "opened",
    "close": "closed",
    "lock": "locked",
    "unlock": "unlocked",
    "add": "added",
    "remove": "removed",
    "connect": "connected",
    "disconnect": "disconnected",
    "show": "shown",
    "hide": "hidden",
    "import": "imported",
    "export": "exported",
    "upload": "uploaded",
    "download": "downloaded",
    "increase": "increased",
    "decrease": "decreased",
    "activate": "activated",
    "deactivate": "deactivated",
    "archive": "archived",
    "unarchive": "unarchived",
    "pin": "pinned",
    "unpin": "unpinned",
    "expand": "expanded",
    "collapse": "collapsed",
    "mount": "mounted",
    "unmount": "unmounted",
    "encrypt": "encrypted",
    "decrypt": "decrypted",
    "compress": "compressed",
    "extract": "extracted",
    "share": "shared",
    "unshare": "unshared",
    "follow": "followed",
    "unfollow": "unfollowed",
    "back up": "backed up",
    "restore": "restored",
    "schedule": "scheduled",
    "cancel": "cancelled",
    "join": "joined",
    "leave": "left",
    "sign in to": "signed in to",
    "sign out of": "signed out of",
}
EVENTS = [
    ("built", "demolished", "the Colosseum"),
    ("opened", "closed", "the Suez Canal"),
    ("founded", "dissolved", "the Soviet Union"),
    ("signed", "repealed", "the Volstead Act"),
    ("launched", "retired", "the Space Shuttle"),
    ("elected", "impeached", "Andrew Johnson"),
    ("introduced", "withdrawn", "the Concorde"),
    ("discovered", "lost", "the Rosetta Stone"),
    ("crowned", "deposed", "Louis XVI"),
    ("formed", "disbanded", "the Beatles"),
    ("released", "discontinued", "the Nokia 3310"),
    ("adopted", "abolished", "the gold standard in Britain"),
    ("captured", "liberated", "Paris in the Second World War"),
    ("started", "ended", "the Hundred Years War"),
]
EVENT_PARA = ["When was {x} {v}?", "{x} {v} year", "In which year was {x} {v}?", "What year was {x} {v}?"]

ROLES = [
    ("president", "vice president"),
    ("winner", "runner-up"),
    ("CEO", "CFO"),
    ("captain", "coach"),
    ("founder", "current CEO"),
    ("author", "translator"),
    ("director", "producer"),
    ("lead singer", "guitarist"),
    ("goalkeeper", "top scorer"),
    ("chairman", "deputy chairman"),
    ("mayor", "deputy mayor"),
    ("prime minister", "deputy prime minister"),
    ("plaintiff", "defendant"),
    ("first", "second"),
    ("champion", "finalist"),
    ("head coach", "assistant coach"),
    ("host", "guest"),
    ("composer", "conductor"),
    ("architect", "engineer"),
    ("governor", "lieutenant governor"),
]
ORGS = [
    "the 1998 Tour de France",
    "Microsoft in 2005",
    "the 1986 World Cup",
    "France in 1995",
    "the 2010 Wimbledon final",
    "Toyota",
    "the first Star Wars film",
    "the Rolling Stones",
    "the city of Chicago",
    "the 1992 Olympic marathon",
    "the Supreme Court case Roe v. Wade",
    "the 2004 Eurovision contest",
    "the Golden Gate Bridge",
    "the New York Philharmonic",
    "Brazil's 1970 team",
    "the state of Ohio",
    "the 2019 Booker Prize",
    "IBM in the 1980s",
    "the UN General Assembly in 2001",
    "the Chicago Bulls in 1996",
]
ROLE_PARA = ["Who was the {r} of {o}?", "{o} {r}", "Name the {r} of {o}.", "Who served as {r} of {o}?"]

NUM_FRAMES: list[tuple[list[str], list[str]]] = [
    (
        ["What is {p}% of {n}?", "{p} percent of {n}", "Calculate {p} percent of {n}.", "How much is {p}% of {n}?"],
        ["What is {n} increased by {p}%?", "What is {n} decreased by {p}%?", "What percent of {n} is {p}?"],
    ),
    (
        ["What is {a} divided by {b}?", "{a} / {b}", "Divide {a} by {b}.", "How much is {a} divided by {b}?"],
        ["What is {b} divided by {a}?", "What is {a} times {b}?", "What is {a} minus {b}?"],
    ),
    (
        ["What is {a} to the power of {b}?", "{a}^{b}", "Compute {a} raised to the power {b}."],
        ["What is {b} to the power of {a}?", "What is the {b}th root of {a}?"],
    ),
    (
        [
            "How many {u2} are in {n} {u1}?",
            "{n} {u1} in {u2}",
            "Convert {n} {u1} to {u2}.",
            "{n} {u1} equals how many {u2}?",
        ],
        ["How many {u1} are in {n} {u2}?"],
    ),
    (
        ["What is the sum of {a} and {b}?", "{a} + {b}", "Add {a} and {b}.", "What do {a} and {b} add up to?"],
        ["What is the product of {a} and {b}?", "What is the difference between {a} and {b}?"],
    ),
    (
        [
            "A {n} dollar item is {p}% off. What is the sale price?",
            "{n} dollars minus {p} percent discount",
            "Price of a ${n} item after a {p}% discount?",
        ],
        [
            "A {n} dollar item costs that after {p}% off. What was the original price?",
            "A {n} dollar item gets a {p}% markup. What is the new price?",
        ],
    ),
    (
        ["What is the average of {a}, {b} and {n}?", "mean of {a} {b} {n}", "Average of {a}, {b}, {n}?"],
        ["What is the median of {a}, {b} and {n}?", "What is the sum of {a}, {b} and {n}?"],
    ),
]
UNITS = [
    ("hours", "minutes"),
    ("kilometers", "miles"),
    ("pounds", "kilograms"),
    ("days", "weeks"),
    ("liters", "gallons"),
    ("feet", "meters"),
    ("cups", "milliliters"),
    ("years", "months"),
]

ENTITY_FRAMES: list[tuple[list[str], list[str]]] = [
    (
        ["What is the capital of {x}?", "capital of {x}", "Which city is the capital of {x}?", "{x} capital city"],
        ["France", "Germany", "Kenya", "Peru", "Vietnam", "Norway", "Egypt", "Chile", "Poland", "Thailand", "Morocco"],
    ),
    (
        ["How long do {x} live?", "{x} lifespan", "What is the life expectancy of {x}?", "Average lifespan of {x}?"],
        ["beagles", "parrots", "hamsters", "horses", "tortoises", "rabbits", "goldfish", "cats", "ferrets", "cows"],
    ),
    (
        ["How many players are on a {x} team?", "{x} team size", "Number of players on a {x} team?"],
        ["volleyball", "rugby", "hockey", "baseball", "cricket", "water polo", "handball", "lacrosse", "netball"],
    ),
    (
        ["What is the population of {x}?", "{x} population", "How many people live in {x}?"],
        ["Madrid", "Ohio", "Lagos", "Quebec", "Mumbai", "Istanbul", "Bavaria", "Manila", "Nairobi", "Oslo"],
    ),
    (
        ["How much protein is in {x}?", "protein in {x}", "What is the protein content of {x}?"],
        ["an egg", "a cup of milk", "chickpeas", "tofu", "almonds", "salmon", "lentils", "oats", "peanut butter"],
    ),
    (
        ["How do I factory reset a {x}?", "{x} factory reset", "Steps to reset a {x} to factory settings?"],
        ["Fitbit", "Kindle", "Nintendo Switch", "Roomba", "GoPro", "Chromecast", "Sonos speaker", "Garmin watch"],
    ),
    (
        ["Is {x} safe to take during pregnancy?", "{x} pregnancy safe", "Can pregnant women take {x}?"],
        ["paracetamol", "aspirin", "loratadine", "melatonin", "omeprazole", "cetirizine", "naproxen"],
    ),
    (
        ["Who painted {x}?", "{x} painter", "Which artist painted {x}?"],
        ["The Last Supper", "Guernica", "The Scream", "Water Lilies", "The Night Watch", "Girl with a Pearl Earring"],
    ),
    (
        [
            "How many calories are burned by an hour of {x}?",
            "calories burned {x} one hour",
            "Calories used per hour of {x}?",
        ],
        ["running", "rowing", "yoga", "tennis", "hiking", "dancing", "boxing", "skiing", "walking"],
    ),
    (
        ["What is the best way to learn {x}?", "learn {x} best way", "How should I go about learning {x}?"],
        ["Rust", "Spanish", "piano", "calculus", "Go", "Mandarin", "chess", "SQL", "Kotlin", "Haskell"],
    ),
]

QUAL_FRAMES: list[tuple[list[str], list[tuple[str, str]]]] = [
    (
        [
            "What is a good {q} training plan for a marathon?",
            "{q} marathon training plan",
            "Suggest a {q} marathon plan.",
        ],
        [("beginner", "advanced"), ("12-week", "6-week"), ("first-time", "experienced")],
    ),
    (
        ["How long should I cook {q} shrimp?", "{q} shrimp cooking time", "Cooking time for {q} shrimp?"],
        [("raw", "frozen"), ("fresh", "precooked"), ("large", "small")],
    ),
    (
        [
            "What is the recommended dose of vitamin D for {q}?",
            "vitamin D dose {q}",
            "How much vitamin D should {q} take?",
        ],
        [("adults", "infants"), ("men", "pregnant women"), ("seniors", "teenagers")],
    ),
    (
        ["How long does {q} shipping take with UPS?", "UPS {q} shipping time", "Delivery time for UPS {q} shipping?"],
        [("standard", "express"), ("ground", "overnight"), ("domestic", "international")],
    ),
    (
        ["What are the symptoms of {q} anemia?", "{q} anemia symptoms", "Signs of {q} anemia?"],
        [("mild", "severe"), ("chronic", "acute"), ("early", "late-stage")],
    ),
    (
        ["What is the {q} tax rate in Spain?", "Spain {q} tax rate", "Tax rate for {q} income in Spain?"],
        [("corporate", "personal"), ("capital gains", "income"), ("top", "lowest")],
    ),
    (
        ["How much does a {q} ticket to Rome cost?", "{q} ticket Rome price", "Price of a {q} ticket to Rome?"],
        [("one-way", "return"), ("economy", "business class"), ("train", "plane")],
    ),
    (
        [
            "What is the {q} deadline for the application?",
            "application {q} deadline",
            "When is the {q} application deadline?",
        ],
        [("early", "regular"), ("standard", "extended"), ("priority", "final")],
    ),
    (
        ["How many hours of sleep does a {q} need?", "{q} sleep hours", "Sleep needed per night for a {q}?"],
        [("newborn", "teenager"), ("toddler", "adult"), ("school-age child", "senior")],
    ),
    (
        [
            "What is the {q} salary of a nurse in Texas?",
            "nurse {q} salary Texas",
            "How much does a nurse in Texas earn ({q})?",
        ],
        [("average", "starting"), ("hourly", "annual"), ("median", "maximum")],
    ),
]

ATTR_FRAMES: list[tuple[list[list[str]], list[str]]] = [
    (
        [
            ["Who wrote {x}?", "{x} author", "Who is the author of {x}?", "{x} was written by whom?"],
            ["When was {x} published?", "How many pages does {x} have?", "What is {x} about?"],
        ],
        ["Moby-Dick", "War and Peace", "Brave New World", "The Hobbit", "Jane Eyre", "Dracula", "Beloved", "Ulysses"],
    ),
    (
        [
            ["How tall is {x}?", "{x} height", "What is the height of {x}?"],
            ["When was {x} built?", "Where is {x}?", "How much did {x} cost to build?"],
        ],
        ["the Burj Khalifa", "Big Ben", "the Statue of Liberty", "the CN Tower", "the Leaning Tower of Pisa"],
    ),
    (
        [
            ["Where was {x} born?", "{x} birthplace", "In which city was {x} born?"],
            ["When was {x} born?", "When did {x} die?", "Who was {x} married to?"],
        ],
        ["Beethoven", "Marie Curie", "Frida Kahlo", "Nikola Tesla", "Charles Darwin", "Ada Lovelace", "Gandhi"],
    ),
    (
        [
            ["What is the melting point of {x}?", "{x} melting point", "At what temperature does {x} melt?"],
            ["What is the atomic number of {x}?", "What is the density of {x}?", "Who discovered {x}?"],
        ],
        ["iron", "copper", "silver", "lead", "aluminium", "tin", "zinc", "nickel"],
    ),
    (
        [
            ["What is the area of {x}?", "{x} area", "How big is {x} in square kilometers?"],
            ["What is the population of {x}?", "What is the official language of {x}?", "What currency does {x} use?"],
        ],
        ["Mongolia", "Portugal", "Bolivia", "Finland", "Nepal", "Uruguay", "Ghana", "Laos"],
    ),
    (
        [
            ["When did {x} start?", "{x} start date", "In what year did {x} begin?"],
            ["Why did {x} start?", "How many people died in {x}?", "Who won {x}?"],
        ],
        ["the Korean War", "the Crimean War", "the Thirty Years War", "the Boer War", "the Gulf War"],
    ),
]

OTHER_FRAMES: list[tuple[list[str], list[str], str]] = [
    (
        ["Is it safe to eat {x}?", "{x} safe to eat", "Can you safely eat {x}?"],
        ["Is it unsafe to eat {x}?", "Why is it not safe to eat {x}?"],
        "negation",
    ),
    (
        ["How do I convert {x} to {y}?", "{x} to {y} conversion", "Converting {x} into {y}: how?"],
        ["How do I convert {y} to {x}?"],
        "direction",
    ),
]
OTHER_FILL = [
    ("mushrooms", "truffles"),
    ("PDF", "Word"),
    ("JSON", "YAML"),
    ("raw oysters", "sushi"),
    ("MP4", "GIF"),
    ("CSV", "Excel"),
    ("sprouted potatoes", "green potatoes"),
    ("PNG", "JPEG"),
]

CHATTY_PRE = [
    "hey, quick one:",
    "Hi! I was wondering,",
    "ok so",
    "Can you help me out?",
    "hello there,",
    "Sorry if this is basic, but",
    "Question for you:",
    "Morning!",
    "Random thought -",
]
CHATTY_POST = [
    "thanks!",
    "thanks in advance",
    "cheers",
    "any help appreciated",
    "asking for a friend",
    "I always forget",
    "if you know",
    "lol",
    "please",
]
_TERSE_DROP = "what is are the a an how do does can i you of to in on for my me please is there way"
STOP_TERSE = frozenset(re.split(r"\s+", _TERSE_DROP))


def terse(text: str) -> str:
    words = re.findall(r"[\w%$'^/+.-]+", text.lower())
    kept = [w.strip(".") for w in words if w not in STOP_TERSE]
    return " ".join(w for w in kept if w) or text.lower()


def chatty(text: str, rng: random.Random) -> str:
    body = text[0].lower() + text[1:] if text[:2] != "I " else text
    return f"{rng.choice(CHATTY_PRE)} {body} {rng.choice(CHATTY_POST)}"


_KEYS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOUR = {
    c: "".join(row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)) for row in _KEYS for i, c in enumerate(row)
}


def typo(
    text: str, rng: random.Random, *, min_len: int = 5, counts: tuple[int, ...] = (1, 2), neighbour: bool = False
) -> str:
    """One slip in each of ``rng.choice(counts)`` words of ``min_len`` or more letters: two letters swapped,
    one dropped, one doubled, or (``neighbour``) a neighbouring key, never the first or last letter."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) >= min_len and w.isalpha()]
    for i in rng.sample(idx, min(len(idx), rng.choice(counts))):
        w = words[i]
        j = rng.randrange(1, len(w) - 1)
        kind = rng.randrange(4 if neighbour else 3)
        if kind == 0:
            w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        elif kind == 1:
            w = w[:j] + w[j + 1 :]
        elif kind == 2:
            w = w[:j] + w[j] + w[j:]
        else:
            near = _NEIGHBOUR.get(w[j].lower(), "")
            w = w[:j] + (rng.choice(near) if near else w[j]) + w[j + 1 :]
        words[i] = w
    return " ".join(words)


def styled(paras: list[str], rng: random.Random) -> list[str]:
    """The hand-written alternatives plus generated terse / chatty / typo / lower-case versions."""
    base = paras[0]
    out = list(paras[1:])
    out += [terse(base), chatty(rng.choice(paras), rng), typo(rng.choice(paras), rng)]
    if rng.random() < 0.5:
        out.append(rng.choice(paras).lower().rstrip("?"))
    return list(dict.fromkeys(p for p in out if p and p != base))


def templated(rng: random.Random) -> list[Group]:
    groups: list[Group] = []
    for a, b in OPS:
        for _ in range(4):
            f, p = rng.choice(FEATURES_OBJ), rng.choice(PLATFORMS)
            fill = {"f": f, "p": p}
            paras = [
                t.format(op=a, opd=OP_PAST[a], **fill) for t in ["How do I {op} {f} on {p}?", *rng.sample(OP_PARA, 3)]
            ]
            near = [
                (t.format(op=b, opd=OP_PAST[b], **fill), "operation")
                for t in ["How do I {op} {f} on {p}?", rng.choice(OP_PARA)]
            ]
            near.append((f"How do I {a} {rng.choice([x for x in FEATURES_OBJ if x != f])} on {p}?", "entity_swap"))
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    for v1, v2, x in EVENTS:
        paras = [t.format(x=x, v=v1) for t in EVENT_PARA]
        near = [(EVENT_PARA[0].format(x=x, v=v2), "operation"), (EVENT_PARA[2].format(x=x, v=v2), "operation")]
        groups.append({"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"})
    for r1, r2 in ROLES:
        for o in rng.sample(ORGS, 3):
            paras = [t.format(r=r1, o=o) for t in ROLE_PARA]
            near = [(ROLE_PARA[0].format(r=r2, o=o), "role"), (ROLE_PARA[2].format(r=r2, o=o), "role")]
            other = rng.choice([x for x in ORGS if x != o])
            near.append((ROLE_PARA[0].format(r=r1, o=other), "entity_swap"))
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    for paras_t, near_t in NUM_FRAMES:
        for _ in range(10):
            x1, x2 = rng.sample([3, 4, 6, 7, 8, 9, 12, 15, 16, 25, 36, 48, 64, 81, 120, 250], 2)
            base, pct = (
                rng.choice([40, 60, 80, 150, 200, 250, 480, 1200, 3000]),
                rng.choice([5, 10, 15, 20, 25, 30, 40]),
            )
            u1, u2 = rng.choice(UNITS)
            nums: dict[str, Any] = {"a": x1, "b": x2, "n": base, "p": pct, "u1": u1, "u2": u2}
            paras = [t.format(**nums) for t in paras_t]
            near = [(t.format(**nums), "number_relation") for t in near_t]
            changed = dict(nums, n=base + rng.choice([1, 10, 100]), a=x1 + 1)
            near.append((paras_t[0].format(**changed), "number_changed"))
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    for paras_t, fills in ENTITY_FRAMES:
        for x in fills:
            y = rng.choice([f for f in fills if f != x])
            paras = [t.format(x=x) for t in paras_t]
            near = [(paras_t[0].format(x=y), "entity_swap"), (rng.choice(paras_t).format(x=y), "entity_swap")]
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    for paras_t, pairs in QUAL_FRAMES:
        for q1, q2 in pairs:
            for q, other in ((q1, q2), (q2, q1)):
                paras = [t.format(q=q) for t in paras_t]
                near = [(paras_t[0].format(q=other), "qualifier"), (rng.choice(paras_t).format(q=other), "qualifier")]
                groups.append(
                    {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
                )
    for (same_t, other_t), fills in ATTR_FRAMES:
        for x in fills:
            paras = [t.format(x=x) for t in same_t]
            near = [(t.format(x=x), "attribute") for t in other_t]
            near.append((same_t[0].format(x=rng.choice([f for f in fills if f != x])), "entity_swap"))
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    for paras_t, near_t, family in OTHER_FRAMES:
        for x, y in OTHER_FILL:
            paras = [t.format(x=x, y=y) for t in paras_t]
            near = [(t.format(x=x, y=y), family) for t in near_t]
            groups.append(
                {"original": paras[0], "paraphrases": styled(paras, rng), "near": near, "source": "templates"}
            )
    return groups


# ---------------------------------------------------------------------------------------------------
# MMLU-derived groups

_CAP = re.compile(r"(?<=[a-z,] )([A-Z][a-z]{2,})")
_NUM = re.compile(r"\b\d+(?:\.\d+)?\b")


def mmlu_groups(rng: random.Random, n: int) -> list[Group]:
    rows = [json.loads(line) for line in (SHARED / "domain" / "mmlu_train.jsonl").open()]
    short = [r["text"].strip() for r in rows if 6 <= len(r["text"].split()) <= 28 and "\n" not in r["text"].strip()]
    rng.shuffle(short)
    short = short[: n * 3]
    caps = sorted({m.group(1) for t in short for m in _CAP.finditer(t)})
    groups: list[Group] = []
    for text in short:
        if len(groups) >= n:
            break
        near: list[tuple[str, str]] = []
        nums = _NUM.findall(text)
        if nums:
            old = rng.choice(nums)
            new = str(int(float(old)) + rng.choice([1, 2, 5, 10])) if "." not in old else str(float(old) * 2)
            near.append((re.sub(rf"\b{re.escape(old)}\b", new, text, count=1), "number_changed"))
        found = [m.group(1) for m in _CAP.finditer(text)]
        if found:
            old = rng.choice(found)
            near.append((text.replace(old, rng.choice([c for c in caps if c != old]), 1), "entity_swap"))
        if not near and rng.random() < 0.7:
            continue
        paras = [text]
        groups.append({"original": text, "paraphrases": styled(paras, rng), "near": near, "source": "mmlu"})
    return groups


def tuning_groups() -> list[Group]:
    by_original: dict[str, Group] = {}
    for line in (ROOT / "tests" / "data" / "cache_pairs.jsonl").open():
        row = json.loads(line)
        g = by_original.setdefault(
            row["original"], {"original": row["original"], "paraphrases": [], "near": [], "source": "tuning_pairs"}
        )
        if row["kind"] == "paraphrase":
            g["paraphrases"] += row["variants"]
        else:
            g["near"] += [(v, row.get("family", "other")) for v in row["variants"]]
    return list(by_original.values())


def domain_paraphrase_groups() -> list[Group]:
    path = ROOT / "tests" / "data" / "oos" / "domain_paraphrase.jsonl"
    if not path.exists():
        return []
    by_group: dict[str, list[str]] = {}
    for line in path.open():
        row = json.loads(line)
        if row.get("language", "en") == "en":
            by_group.setdefault(str(row["group"]), []).append(row["text"])
    return [
        {"original": texts[0], "paraphrases": texts[1:], "near": [], "source": "domain_paraphrase"}
        for texts in by_group.values()
        if len(texts) >= 2
    ]


# ---------------------------------------------------------------------------------------------------
# embeddings, features, training


HAND = ROOT / "data" / "cache_verifier"


def hand_groups(folder: Path = HAND) -> list[Group]:
    """The groups written by hand for the pair models (``data/cache_verifier/*.jsonl``, one author per file)."""
    groups: list[Group] = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                groups.append(
                    {
                        "original": row["original"].strip(),
                        "paraphrases": [p.strip() for p in row["paraphrases"] if p.strip()],
                        "near": [(n_["text"].strip(), n_["family"]) for n_ in row["near"]],
                        "source": row["source"],
                    }
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise SystemExit(f"{path.name}:{n}: malformed group ({exc})") from exc
    return groups


def held_out(groups: list[Group], val_source: str) -> set[int]:
    """Validation groups: whole hand-written files (other authors; ``val_source`` names them, comma-separated),
    and a hash-chosen 20% of the generated."""
    authors = set(val_source.split(","))

    def held(g: Group) -> bool:
        if g["source"].startswith("helper-"):
            return g["source"] in authors
        return int(hashlib.sha256(g["original"].encode()).hexdigest(), 16) % 5 == 0

    return {gi for gi, g in enumerate(groups) if held(g)}


def embed_all(texts: list[str], cache_dir: Path) -> dict[str, np.ndarray]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "embeddings.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            known = dict(zip([str(t) for t in data["texts"]], data["vectors"], strict=True))
    missing = sorted({t for t in texts if t not in known})
    if missing:
        from semrouter.embed.service import EmbeddingService

        vecs = EmbeddingService.default().embed_many(missing, progress=True)
        known.update(zip(missing, vecs, strict=True))
        keys = sorted(known)
        np.savez(path, texts=np.array(keys), vectors=np.stack([known[k] for k in keys]))
    return known


def pairs_of(groups: list[Group], rng: random.Random) -> list[tuple[str, str, int, str, int]]:
    """(query, stored, label, family, group index): the stored side is always an original."""
    out: list[tuple[str, str, int, str, int]] = []
    for gi, g in enumerate(groups):
        for p in g["paraphrases"]:
            out.append((p, g["original"], 1, "paraphrase", gi))
        for text, family in g["near"]:
            out.append((text, g["original"], 0, family, gi))
            if g["paraphrases"]:  # a paraphrase stored, the near miss asked
                out.append((text, rng.choice(g["paraphrases"]), 0, family, gi))
    return out


def hard_negatives(groups: list[Group], vec: dict[str, np.ndarray], k: int) -> list[tuple[str, str, int, str, int]]:
    """Originals of other groups that are nearest neighbours: different questions the cosine calls close."""
    originals = [g["original"] for g in groups]
    m = np.stack([vec[t] for t in originals])
    sims = m @ m.T
    np.fill_diagonal(sims, -1)
    out = []
    for i in np.argsort(-sims.max(axis=1))[:k]:
        j = int(np.argmax(sims[i]))
        if originals[i].lower() != originals[j].lower():
            out.append((originals[i], originals[j], 0, "other_question", int(i)))
    return out


def featurize(pairs: list[tuple[str, str, int, str, int]], vec: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x = np.stack([pair_features(q, normalize(s), float(vec[q] @ vec[s])) for q, s, *_ in pairs])
    y = np.array([p[2] for p in pairs], dtype=np.float32)
    return x, y


def train_mlp(x: np.ndarray, y: np.ndarray, hidden: int, seed: int, epochs: int = 600) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-3
    z = (x - mean) / scale
    w1 = rng.normal(0, 0.5, (z.shape[1], hidden)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = rng.normal(0, 0.5, hidden).astype(np.float32)
    b2 = np.zeros(1, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    # Near misses weigh more: a false hit serves a wrong answer, a false miss costs one upstream call.
    weight = np.where(y == 0, 2.0, 1.0).astype(np.float32)
    weight /= weight.mean()
    lr, l2 = 0.01, 1e-4
    for step in range(1, epochs + 1):
        h = np.tanh(z @ w1 + b1)
        p = 1 / (1 + np.exp(-(h @ w2 + b2)))
        g = (p - y) * weight / len(y)
        gw2 = h.T @ g + l2 * w2
        gb2 = np.array([g.sum()], np.float32)
        gh = np.outer(g, w2) * (1 - h * h)
        gw1 = z.T @ gh + l2 * w1
        gb1 = gh.sum(axis=0)
        for i, grad in enumerate([gw1, gb1, gw2, gb2]):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            params[i] -= lr * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    return {
        "mean": mean.astype(np.float32),
        "scale": scale.astype(np.float32),
        "w1": params[0],
        "b1": params[1],
        "w2": params[2],
        "b2": params[3],
    }


def score(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    z = (x - params["mean"]) / params["scale"]
    h = np.tanh(z @ params["w1"] + params["b1"])
    return np.asarray(1 / (1 + np.exp(-(h @ params["w2"] + params["b2"]))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ASSET))
    ap.add_argument("--cache-dir", default="/tmp/cache_verifier")
    ap.add_argument("--mmlu-groups", type=int, default=700)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--target-fpr", type=float, default=0.02)
    ap.add_argument("--min-similarity", type=float, default=0.7, help="candidate floor the stage uses")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument(
        "--val-source",
        default="helper-misc,helper-office",
        help="hand-written files held out for the threshold (authors, comma-separated)",
    )
    ap.add_argument("--dump-pairs", default=None, help="write the generated pairs as JSONL here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    groups = (
        hand_groups()
        + templated(rng)
        + mmlu_groups(rng, args.mmlu_groups)
        + tuning_groups()
        + domain_paraphrase_groups()
    )
    pairs = pairs_of(groups, rng)
    texts = sorted({t for q, s, *_ in pairs for t in (q, s)} | {g["original"] for g in groups})
    vec = embed_all(texts, Path(args.cache_dir))
    pairs += hard_negatives(groups, vec, 400)
    # the stage only ever verifies candidates above the floor: train on what it will see
    pairs = [p for p in pairs if float(vec[p[0]] @ vec[p[1]]) >= args.min_similarity - 0.05]
    if args.dump_pairs:
        with open(args.dump_pairs, "w") as fh:
            for q, s, label, family, gi in pairs:
                fh.write(
                    json.dumps(
                        {
                            "query": q,
                            "stored": s,
                            "label": label,
                            "family": family,
                            "source": groups[gi]["source"] if family != "other_question" else "nearest_neighbour",
                        }
                    )
                    + "\n"
                )
    val_groups = held_out(groups, args.val_source)
    train = [p for p in pairs if p[4] not in val_groups]
    val = [p for p in pairs if p[4] in val_groups]
    xt, yt = featurize(train, vec)
    xv, yv = featurize(val, vec)
    params = train_mlp(xt, yt, args.hidden, args.seed)
    sv = score(params, xv)
    neg, pos = sv[yv == 0], sv[yv == 1]
    grid = np.linspace(0.05, 0.99, 95)
    ok = [t for t in grid if (neg >= t).mean() <= args.target_fpr]
    threshold = float(min(ok)) if ok else 0.99
    print(f"groups {len(groups)}  pairs train {len(train)} val {len(val)}")
    print(
        f"validation: threshold {threshold:.2f}  hit rate {(pos >= threshold).mean():.3f}  "
        f"false-hit rate {(neg >= threshold).mean():.4f}"
    )
    fams = sorted({p[3] for p in val})
    for fam in fams:
        idx = np.array([p[3] == fam for p in val])
        print(f"  {fam:16s} n={idx.sum():4d} served {(sv[idx] >= threshold).mean():.3f}")
    # shipped as trained on the training split: its threshold was chosen on held-out pairs it never saw
    final = params
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "features": np.array(FEATURES),
        "threshold": np.array([threshold], np.float32),
        "min_similarity": np.array([args.min_similarity], np.float32),
        **final,
    }
    np.savez(out, **arrays)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
