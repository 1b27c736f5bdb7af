"""Build the PII dev sets: ``tests/data/pii_tune.jsonl`` (looked at while tuning rules) and
``tests/data/pii_dev.jsonl`` (the quality gate; never used for tuning).

Each line: ``{"text", "entities": [{"type", "value"}], "source"}``; benign prompts have no entities.

Why two sets built differently: a gate measured on the prompts the rules were tuned on would only prove
that we can memorise. The two sets share the *value* generators (the formats the issue requires: every
type, international phones, spaced/dashed cards, IPv6...) but use disjoint sentence templates, a different
faker seed, disjoint MMLU questions and separately written look-alike templates.

Positives: our own templates filled with faker values (en_US/en_GB/de_DE/fr_FR names, addresses, IBANs)
and our own generators where faker's formats are too narrow (phones, cards, licences). Benign: MMLU
questions from ``../shared/data/domain/mmlu_train.jsonl`` (a third of them chosen because they contain
capitalised name-like word pairs) plus look-alikes: documentation placeholders, ISBNs, versions, hashes,
UUIDs, order numbers, long numbers in maths, historical dates, famous people, code.

    python scripts/build_pii_data.py [--mmlu ../shared/data/domain/mmlu_train.jsonl]
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import random
import re
import uuid
from collections.abc import Callable
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data"

# ------------------------------------------------------------------------------------------- value generators


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def card(rng: random.Random, fake: Faker) -> str:
    brand = rng.choice(["visa", "visa", "mc", "mc2", "amex", "amex", "discover", "jcb", "diners"])
    prefix, length = {
        "visa": ("4", 16),
        "mc": (str(rng.randint(51, 55)), 16),
        "mc2": (str(rng.randint(2221, 2720)), 16),
        "amex": (rng.choice(["34", "37"]), 15),
        "discover": (rng.choice(["6011", "65"]), 16),
        "jcb": (str(rng.randint(3528, 3589)), 16),
        "diners": ("36", 14),
    }[brand]
    d = _luhn_complete(prefix, length, rng)
    sep = rng.choice(["", " ", "-", " "])
    if not sep:
        return d
    if length == 15:
        return sep.join([d[:4], d[4:10], d[10:]])
    if length == 14:
        return sep.join([d[:4], d[4:10], d[10:]])
    return sep.join(d[i : i + 4] for i in range(0, 16, 4))


_US_AREA = ["212", "415", "312", "617", "202", "303", "206", "512", "713", "646", "718", "213", "305", "404"]


def phone(rng: random.Random, fake: Faker) -> str:
    n = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    area, exch = rng.choice(_US_AREA), str(rng.randint(201, 989))
    if exch == "555":
        exch = "556"
    line = n(4)
    return rng.choice(
        [
            f"+1 {area} {exch} {line}",
            f"+1 {area} 555 {rng.randint(1000, 9999)}",
            f"({area}) {exch}-{line}",
            f"{area}-{exch}-{line}",
            f"{area}.{exch}.{line}",
            f"+1-{area}-{exch}-{line}",
            f"+44 20 7{n(3)} {n(4)}",
            f"+44 7{rng.randint(400, 999)} {n(6)}",
            f"0044 161 {n(3)} {n(4)}",
            f"0049 30 {n(7)}",
            f"+49 89 {n(8)}",
            f"+33 1 {n(2)} {n(2)} {n(2)} {n(2)}",
            f"+33 6 {n(2)} {n(2)} {n(2)} {n(2)}",
            f"+91 98{n(3)} {n(5)}",
            f"+61 2 {n(4)} {n(4)}",
            f"+81 3-{n(4)}-{n(4)}",
            f"+34 91 {n(3)} {n(2)} {n(2)}",
            f"+39 06 {n(4)} {n(4)}",
        ]
    )


def ipv4(rng: random.Random, fake: Faker) -> str:
    return str(fake.ipv4_public())


def ipv6(rng: random.Random, fake: Faker) -> str:
    while True:
        a = ipaddress.IPv6Address(rng.getrandbits(128) & ~(0xC000 << 112) | (0x2000 << 112))  # 2000::/3
        if a.is_global and not str(a).startswith("2001:db8"):
            return rng.choice(
                [str(a), a.exploded, str(a).rsplit(":", 2)[0] + "::" + format(rng.randint(1, 0xFFFF), "x")]
            )


_US = Faker("en_US")


def ssn(rng: random.Random, fake: Faker) -> str:
    _US.seed_instance(rng.randint(0, 10**9))  # US SSNs whatever the prompt's locale
    s = str(_US.ssn())
    return rng.choice([s, s, s.replace("-", " ")])


def iban(rng: random.Random, fake: Faker) -> str:
    v = str(fake.iban())
    return v if rng.random() < 0.5 else " ".join(v[i : i + 4] for i in range(0, len(v), 4))


def street(rng: random.Random, fake: Faker) -> str:
    if rng.random() < 0.15:
        return str(fake.street_address())  # en_GB/de_DE/en_US faker formats
    us = Faker("en_US")
    us.seed_instance(rng.randint(0, 10**9))
    return rng.choice(
        [
            str(us.street_address()),
            str(us.address()).replace("\n", ", "),
            f"{rng.randint(1, 9999)} {us.street_name()}",
        ]
    )


def dob(rng: random.Random, fake: Faker) -> str:
    d = fake.date_of_birth(minimum_age=18, maximum_age=90)
    fmt = rng.choice(["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d", "%B %d, %Y", "%d %B %Y", "%b %d, %Y", "%d/%m/%Y"])
    return d.strftime(fmt).replace(" 0", " ")


def driver_license(rng: random.Random, fake: Faker) -> str:
    n = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    L = lambda: rng.choice("ABCDEFGHJKLMNPRSTWY")  # noqa: E731
    return rng.choice(
        [
            f"{L()}{n(7)}",  # California
            f"{L()}{n(3)}-{n(4)}-{n(4)}",  # Florida / Michigan style
            f"{n(9)}",  # New York
            f"{n(8)}",  # Texas
            f"{L()}{n(12)}",  # Illinois
            f"{L()}{L()}{n(6)}",
            f"{n(3)} {n(3)} {n(3)}",
        ]
    )


def passport_no(rng: random.Random, fake: Faker) -> str:
    n = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    L = lambda: rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")  # noqa: E731
    return rng.choice([n(9), f"{L()}{n(8)}", f"{L()}{L()}{n(7)}", n(9)])


def mrn(rng: random.Random, fake: Faker) -> str:
    n = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    return rng.choice([n(8), n(7), f"{n(4)}-{n(4)}", f"MRN-{n(8)}", f"A{n(7)}", n(10)])


def person(rng: random.Random, fake: Faker) -> str:
    return f"{fake.first_name()} {fake.last_name()}"


def email(rng: random.Random, fake: Faker) -> str:
    first, last = fake.first_name().lower(), fake.last_name().lower()
    first, last = (re.sub(r"[^a-z]", "", x) or "kim" for x in (first, last))
    domain = rng.choice(["gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "gmx.de", "icloud.com",
                         "proton.me", str(fake.domain_name()), "company.io", "uni-heidelberg.de"])  # fmt: skip
    local = rng.choice(
        [f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}", f"{last}.{first}"]
    )
    return f"{local}@{domain}"


VALUES: dict[str, Callable[[random.Random, Faker], str]] = {
    "PERSON": person,
    "EMAIL_ADDRESS": email,
    "PHONE_NUMBER": phone,
    "CREDIT_CARD": card,
    "US_SSN": ssn,
    "IBAN_CODE": iban,
    "IP4": ipv4,
    "IP6": ipv6,
    "STREET_ADDRESS": street,
    "DATE_OF_BIRTH": dob,
    "US_DRIVER_LICENSE": driver_license,
    "PASSPORT": passport_no,
    "MEDICAL_RECORD": mrn,
}
SLOT_TYPE = {"IP4": "IP_ADDRESS", "IP6": "IP_ADDRESS"}

# ------------------------------------------------------------------------------------------- positive templates

TUNE_TEMPLATES = [
    "Hi, my name is {PERSON} and my email is {EMAIL_ADDRESS}. Can you help me reset my password?",
    "Please draft a polite reminder email to {PERSON} ({EMAIL_ADDRESS}) about the unpaid invoice.",
    "Call me back at {PHONE_NUMBER} when you get a chance, it's about the lease.",
    "My mobile number is {PHONE_NUMBER}; update my profile please.",
    "Can you format this contact card: {PERSON}, phone {PHONE_NUMBER}, email {EMAIL_ADDRESS}",
    "I was charged twice on my card {CREDIT_CARD}. Write a dispute letter to my bank.",
    "Is this a valid Visa or Amex number? {CREDIT_CARD}",
    "My SSN is {US_SSN}, can you tell me which state issued it?",
    "Fill in the W-4 for me: name {PERSON}, social security number {US_SSN}.",
    "Please wire the deposit to IBAN {IBAN_CODE} before Friday.",
    "Transfer 500 EUR to my account {IBAN_CODE}, reference rent March.",
    "Someone from {IP4} keeps trying to log into my server, how do I block it?",
    "My home IP is {IP4} and my VPN shows {IP6}; is that a leak?",
    "Our firewall logs show repeated requests from {IP6}. What should I do?",
    "I live at {STREET_ADDRESS}. What's the nearest pharmacy?",
    "Ship the replacement to {STREET_ADDRESS}, attention {PERSON}.",
    "Write a change-of-address notice: new address {STREET_ADDRESS}.",
    "I was born on {DATE_OF_BIRTH}. How many days old am I?",
    "Patient {PERSON}, DOB {DATE_OF_BIRTH}, presents with chest pain. Draft the triage note.",
    "My driver's license number is {US_DRIVER_LICENSE}; it expires next month. How do I renew?",
    "Renewal form: driver license {US_DRIVER_LICENSE}, date of birth {DATE_OF_BIRTH}.",
    "My passport number is {PASSPORT}. Can I travel to Canada with it?",
    "Booking details: passenger {PERSON}, passport no. {PASSPORT}.",
    "Summarize the chart for MRN {MEDICAL_RECORD}: hypertension, type 2 diabetes.",
    "Medical record number {MEDICAL_RECORD} needs an allergy update: penicillin.",
    "Dear {PERSON}, thank you for your application. Please rewrite this more warmly.",
    "My landlord {PERSON} won't return my deposit. What are my options?",
    "Write a toast for my brother {PERSON}'s wedding.",
    "Set up a meeting with {PERSON} next Tuesday and send the invite to {EMAIL_ADDRESS}.",
    "Here is my info for the loan: {PERSON}, {STREET_ADDRESS}, SSN {US_SSN}, phone {PHONE_NUMBER}.",
    "Contact {EMAIL_ADDRESS} or ring {PHONE_NUMBER} for the keys.",
    "Card on file {CREDIT_CARD}, billing address {STREET_ADDRESS}.",
    "Reply to {EMAIL_ADDRESS} and tell them the shipment is late.",
    "Log excerpt: failed password for admin from {IP4} port 22 ssh2",
    "Please verify identity: {PERSON}, born {DATE_OF_BIRTH}, passport {PASSPORT}.",
    "Translate into Spanish: My name is {PERSON} and I live at {STREET_ADDRESS}.",
    "{PERSON} <{EMAIL_ADDRESS}> wrote: can we move the call?",
    "Lab results for patient ID {MEDICAL_RECORD} came back normal; write a summary for the family.",
    "Our customer {PERSON} says the app crashes; their IP was {IP4}.",
    "Update the payroll record: IBAN {IBAN_CODE}, SSN {US_SSN}.",
    # names without an explicit cue (added after the first tuning round; written without looking at dev)
    "What should I get {PERSON} for her birthday? She loves gardening.",
    "{PERSON} from accounting keeps cc'ing me on everything; how do I ask him to stop?",
    "Rewrite this sentence: {PERSON} will present the quarterly results on Monday.",
    "I owe {PERSON} 200 dollars; write a payment plan I can send.",
]

DEV_TEMPLATES = [
    "hello there, I'm {PERSON}. you can reach me on {PHONE_NUMBER} or {EMAIL_ADDRESS}",
    "Could you proofread my cover letter? Sign-off: Sincerely, {PERSON}",
    "Write a short thank-you note to my neighbor {PERSON} for watering the plants.",
    "What's the best way to contact {PERSON}? His work address is {EMAIL_ADDRESS}.",
    "text me at {PHONE_NUMBER} if the delivery is delayed",
    "Whatsapp number for the group: {PHONE_NUMBER}",
    "The fraud team flagged {CREDIT_CARD}. Draft a message telling the customer.",
    "pls check if {CREDIT_CARD} passes luhn, it's my debit card",
    "Social security: {US_SSN}. Which form do I need for the tax refund?",
    "Here is the applicant's SSN {US_SSN} and phone {PHONE_NUMBER}.",
    "Bank details for the refund — IBAN: {IBAN_CODE}, holder {PERSON}",
    "Is {IBAN_CODE} a German or a British account?",
    "Why would my laptop at {IP4} show up in the admin's report?",
    "The attacker used {IP6} and then {IP4}; write an incident summary.",
    "Connection refused from client {IP6}, how do I whitelist it in nginx?",
    "Please send the documents to my flat: {STREET_ADDRESS}",
    "Delivery address: {STREET_ADDRESS}. Leave the parcel with the concierge.",
    "We just moved to {STREET_ADDRESS} — write a note for the neighbours.",
    "DOB: {DATE_OF_BIRTH}. Am I eligible for the senior discount?",
    "My date of birth is {DATE_OF_BIRTH} and the form rejects it, why?",
    "Applicant {PERSON} (born {DATE_OF_BIRTH}) needs a reference letter.",
    "DL# {US_DRIVER_LICENSE}, the DMV says it's suspended. What now?",
    "The rental desk asked for my driving licence: {US_DRIVER_LICENSE}.",
    "Passport {PASSPORT} expires in May, can I still get a visa?",
    "Passport number: {PASSPORT}, nationality US. Fill the ESTA for me.",
    "MRN: {MEDICAL_RECORD} — discharge summary needed by noon.",
    "patient id {MEDICAL_RECORD}, allergies none, write SOAP note",
    "Hi {PERSON}, following up on our call yesterday. Make this sound more professional.",
    "My colleague {PERSON} is leaving; write a farewell card message.",
    "Draft a complaint about my manager {PERSON} to HR.",
    "Invoice to {PERSON}, {STREET_ADDRESS}; questions to {EMAIL_ADDRESS}.",
    "Emergency contact: {PERSON}, {PHONE_NUMBER}",
    "Forward this to {EMAIL_ADDRESS} and cc my assistant.",
    "New hire paperwork: {PERSON}, SSN {US_SSN}, start date Monday.",
    "Check-in: {PERSON}, passport {PASSPORT}, card {CREDIT_CARD}.",
    "The server at {IP4} belongs to my home network; is port 8080 exposed?",
    "Ticket: user {EMAIL_ADDRESS} from {IP4} cannot log in.",
    "Records request for medical record {MEDICAL_RECORD}, patient {PERSON}.",
    "I need a letter confirming that {PERSON} lives at {STREET_ADDRESS}.",
    "Please pay the contractor to {IBAN_CODE} and email the receipt to {EMAIL_ADDRESS}.",
    # prompts whose only PII is a name without an explicit cue: the rules may miss these (honest measurement)
    "Summarize the complaint {PERSON} filed against the contractor last week.",
    "Can you find a good gift idea? {PERSON} likes hiking and jazz.",
]

SLOT = re.compile(r"\{([A-Z0-9_]+)\}")


def positives(templates: list[str], n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    locales = ["en_US", "en_US", "en_US", "en_GB", "de_DE", "fr_FR"]
    fakers = {loc: Faker(loc) for loc in set(locales)}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed * 100 + i)
    rows = []
    for i in range(n):
        template = templates[i % len(templates)]
        fake = fakers[rng.choice(locales)]
        ents = []

        def fill(m: re.Match[str], fake: Faker = fake, ents: list[dict[str, str]] = ents) -> str:
            slot = m.group(1)
            value = VALUES[slot](rng, fake)
            ents.append({"type": SLOT_TYPE.get(slot, slot), "value": value})
            return value

        text = SLOT.sub(fill, template)
        rows.append({"text": text, "entities": ents, "source": "template"})
    return rows


# ------------------------------------------------------------------------------------------- look-alikes


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice("0123456789") for _ in range(9))
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    d = body + str(check)
    return f"{d[:3]}-{d[3]}-{d[4:7]}-{d[7:12]}-{d[12]}"


def _placeholder_values(rng: random.Random) -> dict[str, str]:
    h = hashlib.sha256(str(rng.random()).encode()).hexdigest()
    return {
        "doc_email": rng.choice(
            [
                "alice@example.com",
                "user@example.org",
                "jdoe@example.net",
                "admin@test.invalid",
                "someone@sub.example.com",
                "noreply@example.com",
            ]
        ),
        "doc_phone": f"555-01{rng.randint(0, 99):02d}",
        "doc_phone_full": f"({rng.choice(_US_AREA)}) 555-01{rng.randint(0, 99):02d}",
        "doc_ip": rng.choice(
            [
                f"192.0.2.{rng.randint(1, 254)}",
                f"198.51.100.{rng.randint(1, 254)}",
                f"203.0.113.{rng.randint(1, 254)}",
                f"2001:db8::{rng.randint(1, 255):x}",
                f"2001:db8:{rng.randint(1, 9)}::1",
            ]
        ),
        "priv_ip": rng.choice(
            [
                f"192.168.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
                f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
                "127.0.0.1",
                "172.16.0.1",
                "0.0.0.0",
                "::1",
                "fe80::1",
                "255.255.255.0",
            ]
        ),
        "isbn": _isbn13(rng),
        "version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 999)}",
        "sha": h,
        "short_sha": h[:7],
        "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "order": str(rng.randint(10**9, 10**12)),
        "big": str(rng.randint(10**14, 10**18)),
        "big2": str(rng.randint(10**6, 10**9)),
        "year": str(rng.randint(1066, 1990)),
        "num9": str(rng.randint(10**8, 10**9 - 1)),
    }


TUNE_LOOKALIKES = [
    "In the docs, the sample user is {doc_email}; replace it with your own address.",
    "Use {doc_email} as the sender in your unit tests.",
    "The movie character gives out the number {doc_phone}. Why do films use 555 numbers?",
    "Format {doc_phone_full} as E.164 in Python.",
    "Why does ping {doc_ip} time out in the tutorial example?",
    "Configure the example server on {doc_ip} with a /24 netmask.",
    "My router admin page is at {priv_ip}; how do I change the Wi-Fi password?",
    "Explain the difference between {priv_ip} and a public address.",
    "Find me reviews of the book with ISBN {isbn}.",
    "Is ISBN {isbn} the hardcover edition?",
    "We upgraded from version {version} to the latest release; what changed?",
    "The build number is {version}, which is odd. Is that semver?",
    "git checkout {short_sha} fails with 'reference is not a tree'.",
    "Verify the SHA-256 of the download: {sha}",
    "Generate a UUID like {uuid} in JavaScript.",
    "Is {uuid} a version 4 UUID?",
    "Order #{order} hasn't arrived yet, what's the usual delay?",
    "Tracking number {order} shows 'label created' for a week.",
    "Compute {big} mod 97 by hand.",
    "Is {big} divisible by 3? Show the digit-sum trick.",
    "What is {big2} * {big2}?",
    "Factor {num9} into primes.",
    "What happened in the year {year} in England?",
    "On July 20, 1969, Apollo 11 landed on the Moon. Describe the mission.",
    "The Declaration of Independence was signed on August 2, 1776. Who signed first?",
    "Albert Einstein was born on March 14, 1879 in Ulm. Summarize his early life.",
    "Marie Curie was born on 7 November 1867. What did she discover?",
    "Write a letter to Isaac Newton explaining modern physics to him.",
    "Dear Abraham Lincoln, — write a fictional letter from a Union soldier.",
    "Write a short bio of William Shakespeare for a school project.",
    "Why is Newton's second law F = ma?",
    "Explain Schrödinger's cat to a child.",
    "How did Charles Darwin's voyage on the Beagle shape his theory?",
    "Compare the economics of Adam Smith and John Maynard Keynes.",
    "What did Mahatma Gandhi mean by satyagraha?",
    "Sherlock Holmes lived at 221B Baker Street. Describe the flat in the stories.",
    "The White House is at 1600 Pennsylvania Avenue. How old is the building?",
    "Stripe's test card 4242 4242 4242 4242 is declined in my sandbox, why?",
    "Use 4111 1111 1111 1111 to test the payment form.",
    "Is 1234 5678 9012 3456 a valid card number? (It's from a tutorial.)",
    "The textbook IBAN GB82 WEST 1234 5698 7654 32 — how is its check digit computed?",
    "Why is DE89 3704 0044 0532 0130 01 rejected by the IBAN validator?",
    "The SSN 123-45-6789 appears in every example form; was it ever issued?",
    "Numbers like 000-12-3456 cannot be SSNs. Why?",
    "```python\nEMAIL_RE = re.compile(r'[\\w.]+@[\\w.]+')\nprint(EMAIL_RE.match('a@b'))\n```\nWhy doesn't this match?",
    "ssh git@github.com says permission denied (publickey).",
    "Convert the timestamp 1700000000 to a date.",
    "The population of the city grew from 8,336,817 to 8,804,190. What is the percentage change?",
    "pi to 15 digits is 3.141592653589793; how many digits does a double hold?",
    "Explain the Pythagorean theorem using a 3-4-5 triangle.",
    "In chess notation, what does 1. e4 e5 2. Nf3 Nc6 mean?",
    "Our product SKU {order} is out of stock; write a back-in-stock email template.",
    "Harry Potter lived at 4 Privet Drive. What's the significance of the cupboard?",
    "Mr. Darcy's first proposal to Elizabeth Bennet fails. Why?",
    "Hi! Can you explain recursion with a simple example?",
    "Hello, I'm trying to understand eigenvalues; where should I start?",
    "Dear team, please summarize the meeting notes below: budget up 5%, hiring paused.",
    "My name is not important; just tell me how photosynthesis works.",
    "Call the function with 1234567890 as the seed and print the result.",
    "The serial port is /dev/ttyUSB0 at 115200 baud; why is the output garbled?",
    "My favourite scientist is Marie Curie; tell me more about her work.",
    "I'm reading a biography of Abraham Lincoln; recommend similar books.",
    "Dear Acme Support, my order is late. Rewrite this politely.",
    "Write an email to the HR team about the holiday schedule.",
    "Can you explain what John Locke meant by tabula rasa?",
    "I need to cite Smith and Jones (2019) in APA style; show me the reference entry.",
    "My professor recommended Thinking, Fast and Slow by Daniel Kahneman. Is it worth reading?",
    "I loved the film with Tom Hanks on the island; what is it called?",
    "In my essay I compare Jane Austen and the Brontë sisters; suggest a thesis.",
    "Hi there! I'm new to Python, what's a list comprehension?",
    "My teacher says Pythagoras proved his theorem first; is that true?",
]

DEV_LOOKALIKES = [
    "Replace {doc_email} in the config template before deploying.",
    "Regex question: should {doc_email} pass an email validator?",
    "In the TV show the detective dials {doc_phone_full}. Is that a real number?",
    "Our test fixture uses the phone {doc_phone}; is it safe to commit?",
    "RFC 5737 says {doc_ip} is for documentation. What other ranges are there?",
    "traceroute to {doc_ip} shows 30 hops of stars",
    "docker says the bridge network is {priv_ip}/16; how do I change it?",
    "Set the DNS server to {priv_ip} in resolv.conf.",
    "Cite the book ISBN {isbn} in APA format.",
    "ISBN-13 {isbn}: compute the check digit by hand.",
    "Release {version} broke our plugin; how do I pin the previous one?",
    "Chrome {version} shows a blank page on our site.",
    "What does the commit {sha} in the Linux kernel change?",
    "The file's MD5 is {short_sha}… actually that's too short. How long is an MD5 hash?",
    "Parse the UUID {uuid} into its fields.",
    "Our request id {uuid} appears in the logs twice; why?",
    "Invoice {order} is overdue; write a friendly reminder template without names.",
    "Why is {big} not a perfect square?",
    "Express {big} in scientific notation.",
    "How many digits does {big2}^3 have?",
    "Is {num9} prime?",
    "Summarize the main events of {year}.",
    "World War II ended on September 2, 1945. What were the terms?",
    "The Berlin Wall fell on 9 November 1989. Why then?",
    "Neil Armstrong was born on August 5, 1930. What was his career before NASA?",
    "Wolfgang Amadeus Mozart was born on 27 January 1756 in Salzburg; list his major operas.",
    "Explain the Heisenberg uncertainty principle in plain words.",
    "Why did Galileo Galilei get in trouble with the Church?",
    "Write a dialogue between Plato and Aristotle about forms.",
    "Dear Albert Einstein, I have a question about relativity — answer as if you were him.",
    "What would Charles Dickens think of social media? Write it in his style.",
    "How did Nikola Tesla and Thomas Edison differ on AC vs DC?",
    "Explain Bayes' theorem with the classic medical test example.",
    "Who was Ada Lovelace and why is she called the first programmer?",
    "Compare Karl Marx and Max Weber on capitalism.",
    "Give me a timeline of Winston Churchill's career.",
    "10 Downing Street is the Prime Minister's residence; since when?",
    "Describe 742 Evergreen Terrace from The Simpsons.",
    "PayPal sandbox rejects 5555 5555 5555 4444, what's wrong?",
    "Test AmEx 3782 822463 10005 works in staging but not production.",
    "Why does the Luhn check fail for 4532 0151 1283 0367?",
    "An IBAN like GB00 ABCD 1234 5678 9012 34 has check digits 00; is that ever valid?",
    "The sample IBAN DE89370400440532013000 from Wikipedia — which bank is it?",
    "Is 078-05-1120 the famous Woolworth wallet SSN?",
    "```js\nconst phone = '(212) 555-0147';\nconsole.log(phone.replace(/\\D/g, ''));\n```\nWhat does this print?",
    "```bash\ncurl -H 'Host: example.com' http://127.0.0.1:8080/\n```\nWhy 404?",
    "git clone git@gitlab.com:group/project.git fails behind the proxy",
    "Unix time 1234567890 was a Friday the 13th; how do I check?",
    "The national debt passed 31,400,000,000,000 dollars. How much per person?",
    "e to 20 digits is 2.71828182845904523536; which algorithm computes it?",
    "In SQL, why does WHERE id = 4000000000 overflow an INT column?",
    "The lottery numbers were 4 8 15 16 23 42. What are the odds?",
    "Our part number {order} has the wrong weight in the catalog.",
    "Frodo Baggins lives in Bag End, Hobbiton. Describe the Shire.",
    "Hi, could you write a haiku about autumn?",
    "Hello! What's the capital of Australia?",
    "Dear assistant, explain why the sky is blue.",
    "I'm a teacher planning a lesson on fractions; give me three activities.",
    "My dog keeps barking at night; any training tips?",
    "Version 3.11.4.1 of the tool prints a deprecation warning; how to silence it?",
    "Section 4.2.1.3 of the spec describes the handshake; summarize it.",
    "The OID 1.3.6.1.4.1.311 belongs to which vendor?",
    "Coordinates 48.8584, 2.2945 point to which landmark?",
    "Phone keypad question: which letters are on keys 2 through 9?",
]


def lookalikes(templates: list[str], n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        template = templates[i % len(templates)]
        values = _placeholder_values(rng)
        text = re.sub(r"\{([a-z0-9_]+)\}", lambda m, v=values: v[m.group(1)], template)  # type: ignore[misc]
        rows.append({"text": text, "entities": [], "source": "lookalike"})
    return rows


_NAMEISH = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+\s+[A-Z][a-z]+")


def mmlu(path: Path, seed: int, n: int, exclude: set[str]) -> list[dict[str, object]]:
    rows = [json.loads(line)["text"] for line in path.open()]
    rows = [t for t in rows if t not in exclude and len(t) < 1500]
    rng = random.Random(seed)
    rng.shuffle(rows)
    named = [t for t in rows if _NAMEISH.search(t)][: n // 3]
    rest = [t for t in rows if t not in set(named)][: n - len(named)]
    return [{"text": t, "entities": [], "source": "mmlu"} for t in named + rest]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mmlu", type=Path, default=ROOT.parent / "shared" / "data" / "domain" / "mmlu_train.jsonl")
    args = ap.parse_args(argv)
    tune_mmlu = mmlu(args.mmlu, 11, 300, set())
    dev_mmlu = mmlu(args.mmlu, 23, 400, {str(r["text"]) for r in tune_mmlu})
    sets = {
        "pii_tune.jsonl": positives(TUNE_TEMPLATES, 400, 1) + lookalikes(TUNE_LOOKALIKES, 180, 2) + tune_mmlu,
        "pii_dev.jsonl": positives(DEV_TEMPLATES, 420, 7) + lookalikes(DEV_LOOKALIKES, 200, 8) + dev_mmlu,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        with (OUT / name).open("w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        pos = sum(1 for r in rows if r["entities"])
        print(f"{name}: {len(rows)} prompts, {pos} with PII, {len(rows) - pos} benign")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
