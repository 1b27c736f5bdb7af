"""Grow ``tests/data/pii_tune.jsonl`` with Faker-generated prompts in English (GB), Spanish, Portuguese,
French and German (``source: "faker_intl"``): the set the multilingual rules are tuned on.

Short fill-in templates with Faker locales (``es_ES``, ``pt_BR``, ``pt_PT``, ``fr_FR``, ``de_DE``,
``en_GB``, ``en_US``) and check-digit generators for the identifiers Faker lacks. Deliberately a different
style and author from ``tests/data/oos/pii.jsonl`` (hand-written real-life messages), which is never used
for tuning. Rows of other sources already in the file are kept as they are.

    python scripts/build_pii_tune_intl.py
"""

# ruff: noqa: E501  (hand-written data rows read best one message per line)

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_pii_oos import cns, cpf, dni, iban, kvnr, luhn, nhs, nie, nir, nuss, pt_nif, steuer  # noqa: E402

TUNE = ROOT / "tests" / "data" / "pii_tune.jsonl"
SOURCE = "faker_intl"
rng = random.Random(2026)


def digits(n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    "pt": [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
}


def dob(lang: str) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2015)
    style = rng.randint(0, 2)
    if style == 0:
        return f"{d:02d}/{m:02d}/{y}" if lang != "de" else f"{d:02d}.{m:02d}.{y}"
    month = MONTHS[lang][m - 1]
    return {
        "en": f"{d} {month} {y}", "es": f"{d} de {month} de {y}", "pt": f"{d} de {month} de {y}",
        "fr": f"{d} {month} {y}", "de": f"{d}. {month} {y}",
    }[lang]  # fmt: skip


def card() -> str:
    prefix = rng.choice(["4", "51", "52", "53"])
    p = luhn(prefix + digits(15 - len(prefix)))
    return " ".join(p[i : i + 4] for i in range(0, 16, 4))


LOCALES = {"en": "en_GB", "es": "es_ES", "pt": rng.choice(["pt_BR", "pt_PT"]), "fr": "fr_FR", "de": "de_DE"}

# (template, slots): {name} {first} {email} {phone} {street} {dob} {card} {iban} {ip} {passport} {dl} {id} {health} {mrn}
TEMPLATES = {
    "en": [
        "Dear {first}, please find the contract attached. Kind regards, {first2}",
        "Applicant {name}, born {dob}, phone {phone}",
        "Hello {first},\nCan we move our call?\nThanks,\n{first2}",
        "NHS number {health} for {name}, please update the record",
        "My National Insurance number is {id}, what tax code should I have?",
        "Ship the parcel to {street}, contact {phone}",
        "Driving licence {dl} and passport {passport} for the rental desk",
        "MRN {mrn}: patient {name} needs a follow-up",
        "Pay into {iban}, reference {first}",
        "Login from {ip} on my account, email {email}",
    ],
    "es": [
        "Hola {first}:\nTe envío el contrato.\nSaludos,\n{first2}",
        "Me llamo {name} y mi teléfono es {phone}",
        "Mi DNI es {id} y vivo en {street}",
        "Fecha de nacimiento: {dob}. Nombre: {name}",
        "Tarjeta sanitaria {health}, paciente {name}",
        "Número de pasaporte {passport}, caduca en 2030",
        "Carnet de conducir {dl}",
        "Historia clínica {mrn} de {name}",
        "Transferencia a {iban} a nombre de {name}",
        "Estimado Sr. {last}: le escribo por la factura. Atentamente, {name}",
        "Nací el {dob} en Sevilla",
        "Mi tarjeta {card} tiene un cargo extraño",
    ],
    "pt": [
        "Olá {first},\nsegue o documento.\nAbraço,\n{first2}",
        "Meu nome é {name} e meu celular é {phone}",
        "Meu CPF é {id}, moro na {street}",
        "Data de nascimento: {dob}. Nome: {name}",
        "Cartão SUS {health} do paciente {name}",
        "Passaporte nº {passport}",
        "CNH {dl} vence ano que vem",
        "Prontuário {mrn}, paciente {name}",
        "IBAN {iban}, titular {name}",
        "Prezado Sr. {last}, obrigado pelo contato. Atenciosamente, {name}",
        "Nasci em {dob} no Porto",
        "Cartão {card} com compra desconhecida",
    ],
    "fr": [
        "Bonjour {first},\nci-joint le devis.\nCordialement,\n{first2}",
        "Je m'appelle {name}, mon téléphone est le {phone}",
        "Numéro de sécurité sociale {id}, adresse {street}",
        "Date de naissance : {dob}. Nom : {name}",
        "Carte Vitale {health} pour {name}",
        "Passeport n° {passport}",
        "Permis de conduire {dl}",
        "Dossier {mrn}, patient {name}",
        "RIB {iban}, titulaire {name}",
        "Madame {last}, je vous remercie. Bien cordialement, {name}",
        "Je suis né le {dob} à Lille",
        "Ma carte {card} a été débitée deux fois",
    ],
    "de": [
        "Hallo {first},\nanbei der Vertrag.\nViele Grüße,\n{first2}",
        "Ich heiße {name}, meine Nummer ist {phone}",
        "Steuer-ID {id}, Adresse {street}",
        "Geburtsdatum: {dob}. Name: {name}",
        "Krankenversichertennummer {health} von {name}",
        "Reisepass Nr. {passport}",
        "Führerschein {dl}",
        "Patientennummer {mrn}, Patient {name}",
        "IBAN {iban}, Kontoinhaber {name}",
        "Sehr geehrte Frau {last}, vielen Dank. Mit freundlichen Grüßen, {name}",
        "Ich bin am {dob} in Kiel geboren",
        "Meine Karte {card} wurde doppelt belastet",
    ],
}
TYPES = {
    "name": "PERSON", "first": "PERSON", "first2": "PERSON", "last": "PERSON", "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER", "street": "STREET_ADDRESS", "dob": "DATE_OF_BIRTH", "card": "CREDIT_CARD",
    "iban": "IBAN_CODE", "ip": "IP_ADDRESS", "passport": "PASSPORT", "dl": "US_DRIVER_LICENSE",
    "id": "NATIONAL_ID", "health": "HEALTH_NUMBER", "mrn": "MEDICAL_RECORD",
}  # fmt: skip
BENIGN = {
    "en": ["Dear team, the office is closed on Friday. Regards, HR", "What did Alan Turing prove in 1936?",
           "Is Python 3.13.1 out yet?", "The ISBN 978-1-4028-9462-6 belongs to which book?",
           "Hi all, any tips for London in winter?", "Queen Victoria died on 22 January 1901."],
    "es": ["Hola a todos, ¿alguna receta de gazpacho?", "¿Qué descubrió Severo Ochoa?",
           "La versión 3.2.1 falla al instalar", "¿El ISBN 978-84-663-4512-3 es de qué libro?",
           "Saludos cordiales a todo el equipo", "Colón llegó a América el 12 de octubre de 1492"],
    "pt": ["Olá a todos, alguém tem receita de feijoada?", "O que Oswaldo Cruz fez pela saúde pública?",
           "A versão 2.0.4 do app trava", "O ISBN 978-85-7164-123-4 é de que livro?",
           "Um abraço a toda a equipa", "Cabral chegou ao Brasil em 22 de abril de 1500"],
    "fr": ["Bonjour à tous, une recette de ratatouille ?", "Qu'a découvert Antoine Lavoisier ?",
           "La version 4.1.0 plante au démarrage", "L'ISBN 978-2-253-00611-0 correspond à quel livre ?",
           "Cordialement, l'équipe support", "Louis XVI est mort le 21 janvier 1793"],
    "de": ["Hallo zusammen, hat jemand ein Rezept für Sauerbraten?", "Was hat Robert Koch entdeckt?",
           "Version 5.3.2 stürzt beim Start ab", "Zu welchem Buch gehört ISBN 978-3-16-148410-0?",
           "Viele Grüße an das ganze Team", "Kant wurde am 22. April 1724 in Königsberg geboren"],
}  # fmt: skip


LOOKALIKES = {
    "en": ["What happened on {hday} {hmonth} {hyear}?", "Is version {ver} of the app stable?", "Book ISBN {isbn}",
           "Order number {order} has not shipped", "What is the postcode {postcode} area like?", "Barcode {ean} scans as what?",
           "Hi team, the build {ver} is out. Thanks, QA", "Explain what {famous} discovered", "Page {page} of the manual, step 3"],
    "es": ["¿Qué pasó el {hday} de {hmonth} de {hyear}?", "¿Es estable la versión {ver}?", "Libro ISBN {isbn}",
           "El pedido nº {order} no ha llegado", "¿Cómo es la zona del código postal {postcode}?", "Código de barras {ean}",
           "Hola equipo, ya está la versión {ver}. Saludos, el equipo de QA", "Explica qué descubrió {famous}",
           "Artículo {page} de la Ley {law}"],
    "pt": ["O que aconteceu em {hday} de {hmonth} de {hyear}?", "A versão {ver} é estável?", "Livro ISBN {isbn}",
           "A encomenda nº {order} não chegou", "Como é a zona do código postal {postcode}?", "Código de barras {ean}",
           "Olá equipe, saiu a versão {ver}. Abraço, equipe de QA", "Explica o que {famous} descobriu",
           "Artigo {page} da Lei {law}"],
    "fr": ["Que s'est-il passé le {hday} {hmonth} {hyear} ?", "La version {ver} est-elle stable ?", "Livre ISBN {isbn}",
           "La commande n° {order} n'est pas arrivée", "Le code postal {postcode}, c'est où ?", "Code-barres {ean}",
           "Bonjour l'équipe, la version {ver} est sortie. Cordialement, l'équipe QA", "Explique ce qu'a découvert {famous}",
           "Article {page} de la loi {law}"],
    "de": ["Was geschah am {hday}. {hmonth} {hyear}?", "Ist Version {ver} stabil?", "Buch ISBN {isbn}",
           "Bestellung Nr. {order} ist nicht angekommen", "Wo liegt die Postleitzahl {postcode}?", "Strichcode {ean}",
           "Hallo Team, Version {ver} ist draußen. Viele Grüße, das QA-Team", "Erklär, was {famous} entdeckt hat",
           "§ {page} des Gesetzes {law}"],
}  # fmt: skip
FAMOUS = ["Marie Curie", "Louis Pasteur", "Santiago Ramón y Cajal", "Robert Koch", "Carlos Chagas", "Max Planck"]


def lookalike(lang: str, fake: Faker, tpl: str) -> str:
    return tpl.format(
        hday=rng.randint(1, 28), hmonth=MONTHS[lang][rng.randint(0, 11)], hyear=rng.randint(1500, 1899),
        ver=f"{rng.randint(1, 20)}.{rng.randint(0, 12)}.{rng.randint(0, 30)}", isbn=fake.isbn13(),
        order=digits(rng.choice([8, 10, 12])), postcode=fake.postcode(), ean="40" + digits(11),
        famous=rng.choice(FAMOUS), page=rng.randint(1, 300), law=f"{rng.randint(1, 99)}/{rng.randint(1950, 2024)}",
    )  # fmt: skip


def values(lang: str, fake: Faker) -> dict[str, str]:
    last = fake.last_name()
    v = {
        "name": f"{fake.first_name()} {last}", "first": fake.first_name(), "first2": fake.first_name(), "last": last,
        "email": fake.free_email(), "phone": fake.phone_number(), "street": fake.street_address().replace("\n", ", "),
        "dob": dob(lang), "card": card(), "ip": fake.ipv4_public(), "mrn": f"{rng.choice(['', 'MRN-', 'H-'])}{digits(7)}",
        "passport": rng.choice("ABCDEFGHJKLMNPRTXYZ") + digits(8),
    }  # fmt: skip
    if lang == "en":
        v |= {
            "iban": iban("GB", rng.choice(["BARC", "NWBK", "LOYD"]) + digits(14)),
            "id": f"{rng.choice(['AB', 'JG', 'PW', 'SK'])} {digits(2)} {digits(2)} {digits(2)} {rng.choice('ABCD')}",
            "health": nhs(digits(9)),
            "dl": f"{last.upper()[:5]:9<5}{digits(6)}{fake.first_name()[0]}X9AB",
        }
    elif lang == "es":
        v |= {
            "iban": iban("ES", digits(20)),
            "id": rng.choice([dni(digits(8)), nie("X", digits(7))]),
            "health": rng.choice([nuss(digits(10)), "BBBB " + digits(4) + " " + digits(4) + " " + digits(2)]),
            "dl": dni(digits(8)),
        }
    elif lang == "pt":
        v |= {
            "iban": iban("PT", digits(21)),
            "id": rng.choice([cpf(digits(9)), pt_nif(str(rng.randint(1, 2)) + digits(7))]),
            "health": rng.choice([cns("7" + digits(13)), digits(9)]),
            "dl": digits(11),
        }
    elif lang == "fr":
        v |= {
            "iban": iban("FR", digits(23)),
            "id": nir(f"{rng.randint(1, 2)} {digits(2)} {rng.randint(1, 12):02d} {digits(2)} {digits(3)} {digits(3)}"),
            "health": nir(
                f"{rng.randint(1, 2)} {digits(2)} {rng.randint(1, 12):02d} {digits(2)} {digits(3)} {digits(3)}"
            ),
            "dl": digits(12),
        }
    else:
        v |= {
            "iban": iban("DE", digits(18)),
            "id": steuer(str(rng.randint(1, 9)) + digits(9)),
            "health": kvnr(rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ"), digits(8)),
            "dl": "B" + digits(3) + "RRE" + digits(4),
        }
    return v  # fmt: skip


def main() -> None:
    keep = [json.loads(x) for x in TUNE.read_text(encoding="utf-8").splitlines() if x.strip()]
    keep = [r for r in keep if r.get("source") != SOURCE]
    rows = []
    for lang, templates in TEMPLATES.items():
        fake = Faker(LOCALES[lang])
        fake.seed_instance(7)
        for i in range(60):
            tpl = templates[i % len(templates)]
            v = values(lang, fake)
            text = tpl.format(**v)
            slots = [s.split("}")[0] for s in tpl.split("{")[1:]]
            ents = [{"type": TYPES[s], "value": v[s]} for s in slots]
            rows.append({"text": text, "entities": ents, "source": SOURCE, "language": lang})
        rows += [{"text": t, "entities": [], "source": SOURCE, "language": lang} for t in BENIGN[lang]]
        rows += [
            {"text": lookalike(lang, fake, tpl), "entities": [], "source": SOURCE, "language": lang}
            for tpl in LOOKALIKES[lang] * 3
        ]
    TUNE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep + rows), encoding="utf-8")
    print(f"{len(rows)} {SOURCE} rows, {len(keep)} kept -> {TUNE}")


if __name__ == "__main__":
    main()
