"""PII detector per entity type and format, placeholders and look-alikes, and mask/restore.

Uses the real detector (the shipped spaCy model, offline); the model loads once per test session.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from semrouter.guards.config import PII_TYPES, PiiConfig
from semrouter.guards.pii import PiiDetector, PiiEntity, Restorer, mask, restore


@pytest.fixture(scope="module")
def det() -> PiiDetector:
    return PiiDetector.shared(PiiConfig())


def found(det: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(e.type, text[e.start : e.end]) for e in det.detect(text)]


POSITIVES = [
    ("Contact me at jane.roe42@gmail.com tomorrow.", "EMAIL_ADDRESS", "jane.roe42@gmail.com"),
    ("Write to k.mueller@uni-heidelberg.de about the grant.", "EMAIL_ADDRESS", "k.mueller@uni-heidelberg.de"),
    ("Call me on +44 20 7946 0958 after six.", "PHONE_NUMBER", "+44 20 7946 0958"),
    ("My cell is +1 415 555 2671.", "PHONE_NUMBER", "+1 415 555 2671"),
    ("Office: 0049 30 1234567, ask for the desk.", "PHONE_NUMBER", "0049 30 1234567"),
    ("Reach me at (212) 555-7890 any time.", "PHONE_NUMBER", "(212) 555-7890"),
    ("phone 312-867-5309 please", "PHONE_NUMBER", "312-867-5309"),
    ("whatsapp +91 98765 43210", "PHONE_NUMBER", "+91 98765 43210"),
    ("Charge my Visa 4532 0151 1283 0366 for the order.", "CREDIT_CARD", "4532 0151 1283 0366"),
    ("Card: 4532-0151-1283-0366", "CREDIT_CARD", "4532-0151-1283-0366"),
    ("My Amex is 3714 496353 98431? no wait, 3400 000000 00009.", "CREDIT_CARD", "3400 000000 00009"),
    ("mastercard 5425233430109903 expires 04/28", "CREDIT_CARD", "5425233430109903"),
    ("My SSN is 536-22-1234.", "US_SSN", "536-22-1234"),
    ("social security number 536 22 1234", "US_SSN", "536 22 1234"),
    ("SSN: 536221234", "US_SSN", "536221234"),
    ("Send it to GB33 BUKB 2020 1555 5555 55 today.", "IBAN_CODE", "GB33 BUKB 2020 1555 5555 55"),
    ("IBAN FR1420041010050500013M02606", "IBAN_CODE", "FR1420041010050500013M02606"),
    ("Someone at 81.2.69.160 logged into my account.", "IP_ADDRESS", "81.2.69.160"),
    ("my VPN exit is 2a03:2880:f12f:83:face:b00c:0:25de", "IP_ADDRESS", "2a03:2880:f12f:83:face:b00c:0:25de"),
    (
        "I live at 742 Oak Street, Apt 5, Springfield, IL 62704.",
        "STREET_ADDRESS",
        "742 Oak Street, Apt 5, Springfield, IL 62704",
    ),
    ("Ship to 17066 Heather Grove Apt. 915 please.", "STREET_ADDRESS", "17066 Heather Grove Apt. 915"),
    ("My new flat: Flat 3, 12 Baker Road, London NW1 6XE.", "STREET_ADDRESS", "Flat 3, 12 Baker Road, London NW1 6XE"),
    ("Adresse: Hauptstraße 12, 10115 Berlin", "STREET_ADDRESS", "Hauptstraße 12, 10115 Berlin"),
    ("I was born on 03/14/1985 in Ohio.", "DATE_OF_BIRTH", "03/14/1985"),
    ("DOB: 14 March 1985", "DATE_OF_BIRTH", "14 March 1985"),
    ("date of birth 1985-03-14", "DATE_OF_BIRTH", "1985-03-14"),
    ("My driver's license number is D1234567.", "US_DRIVER_LICENSE", "D1234567"),
    ("DL# S530-4608-1234 was suspended", "US_DRIVER_LICENSE", "S530-4608-1234"),
    ("passport number 123456789, expires 2030", "PASSPORT", "123456789"),
    ("Passport: X12345678", "PASSPORT", "X12345678"),
    ("MRN: 00482913, admitted Monday", "MEDICAL_RECORD", "00482913"),
    ("patient ID 7731-2291 needs follow-up", "MEDICAL_RECORD", "7731-2291"),
    ("Hi, my name is Jessica Miller and I need help.", "PERSON", "Jessica Miller"),
    ("Please draft an email to Robert Chen about the delay.", "PERSON", "Robert Chen"),
    ("Dear Rémy Thibault, thank you for applying.", "PERSON", "Rémy Thibault"),
    ("My landlord Klaus-Werner Heinrich kept my deposit.", "PERSON", "Klaus-Werner Heinrich"),
    # beyond English US formats (issue 16)
    ("text me on 312.555.0168 when you land", "PHONE_NUMBER", "312.555.0168"),  # 555 in a user's own message
    ("mi móvil es el 612 48 93 07", "PHONE_NUMBER", "612 48 93 07"),
    ("appelle-moi au 06 12 48 93 07", "PHONE_NUMBER", "06 12 48 93 07"),
    ("meine Handynummer ist 0151 23456789", "PHONE_NUMBER", "0151 23456789"),
    ("meu celular é (11) 98765-4321", "PHONE_NUMBER", "(11) 98765-4321"),
    ("Mi DNI es 48291037F, ¿con guion?", "NATIONAL_ID", "48291037F"),
    ("NIE X2482300W para la gestoría", "NATIONAL_ID", "X2482300W"),
    ("Meu CPF é 529.982.247-25", "NATIONAL_ID", "529.982.247-25"),
    ("numéro de sécu 2 84 05 69 123 417 48", "NATIONAL_ID", "2 84 05 69 123 417 48"),
    ("National Insurance JG 10 37 59 A", "NATIONAL_ID", "JG 10 37 59 A"),
    ("Meine Steuer-ID ist 65 923 810 474", "NATIONAL_ID", "65 923 810 474"),
    ("NHS number 943 476 5919 for the GP", "HEALTH_NUMBER", "943 476 5919"),
    ("carte Vitale 1 79 12 75 115 208 66 perdue", "HEALTH_NUMBER", "1 79 12 75 115 208 66"),
    ("Krankenversichertennummer A123456780 bei der AOK", "HEALTH_NUMBER", "A123456780"),
    ("Cartão SUS 700 0028 7331 9007", "HEALTH_NUMBER", "700 0028 7331 9007"),
    ("pasaporte nº PAB712903 antes del viaje", "PASSPORT", "PAB712903"),
    ("Reisepass Nr. C4J7R2X19 läuft ab", "PASSPORT", "C4J7R2X19"),
    ("permis de conduire n° 130674200318 suspendu", "US_DRIVER_LICENSE", "130674200318"),
    ("Führerscheinnummer B072RRE2I55", "US_DRIVER_LICENSE", "B072RRE2I55"),
    ("historia clínica HC-2093381 de la paciente", "MEDICAL_RECORD", "HC-2093381"),
    ("nací el 3 de mayo de 1987 en Cádiz", "DATE_OF_BIRTH", "3 de mayo de 1987"),
    ("I was born on the third of May 1987", "DATE_OF_BIRTH", "the third of May 1987"),
    ("ich bin am 3. Mai 1987 geboren", "DATE_OF_BIRTH", "3. Mai 1987"),
    ("je suis née le vingt et un octobre 1990", "DATE_OF_BIRTH", "vingt et un octobre 1990"),
    (
        "Vivo en Calle de Toledo 84, 3º izq., 28005 Madrid",
        "STREET_ADDRESS",
        "Calle de Toledo 84, 3º izq., 28005 Madrid",
    ),
    (
        "moro na Rua de Santa Catarina 312, 4000-447 Porto",
        "STREET_ADDRESS",
        "Rua de Santa Catarina 312, 4000-447 Porto",
    ),
    ("Adresse : Am Rosengarten 8, 45127 Essen", "STREET_ADDRESS", "Am Rosengarten 8, 45127 Essen"),
    ("Dear Priyanka,\nthe slides look great.", "PERSON", "Priyanka"),
    ("Hola María:\nte paso el informe.", "PERSON", "María"),
    ("See you Friday.\n\nViele Grüße,\nJens", "PERSON", "Jens"),
    ("Merci !\nCordialement,\nMarc", "PERSON", "Marc"),
    ("Estimado Sr. Gutiérrez: le escribo por la fianza.", "PERSON", "Gutiérrez"),
    ("je m'appelle Camille Lefèvre et je voudrais résilier", "PERSON", "Camille Lefèvre"),
    # 2026-12-07, from the second author's dev half (generic forms of its misses, not its rows)
    ("Write a toast for my son Hugo, he turns 18 on Friday.", "PERSON", "Hugo"),
    ("Escribe un poema para mi abuela Encarna.", "PERSON", "Encarna"),
    ("Corrige : « Merci pour tout. Bien à vous, Karim Haddad »", "PERSON", "Karim Haddad"),
    ("Anbei meine Unterlagen. Mit freundlichen Grüßen, Mehmet Yılmaz", "PERSON", "Mehmet Yılmaz"),  # noqa: RUF001
    ("Claim form. Member: Sandra Lindqvist, plan B.", "PERSON", "Sandra Lindqvist"),
    ("mi iban es es91 2100 0418 4502 0005 1332, ¿lo pongo sin espacios?", "IBAN_CODE", "es91 2100 0418 4502 0005 1332"),
    ("Für das Formular: Passnummer C01X00T47, bitte prüfen.", "PASSPORT", "C01X00T47"),
    ("Mon fils vient d'avoir son permis, le numéro est 19AE83025.", "US_DRIVER_LICENSE", "19AE83025"),
    ("Su NSS es 12049867351, ¿cómo lo doy de alta en el IMSS?", "HEALTH_NUMBER", "12049867351"),
    # 2026-12-07, second round from the second author's set (generic forms of its misses, not its rows)
    ("Ich, Karl Brandt, geboren am fünften Juli neunzehnhunderteinundsechzig, erkläre", "DATE_OF_BIRTH",
     "fünften Juli neunzehnhunderteinundsechzig"),
    ("Je soussigné, né le douze avril mille neuf cent quatre-vingt-huit à Lyon", "DATE_OF_BIRTH",
     "douze avril mille neuf cent quatre-vingt-huit"),
    ("My gran was born on the ninth of October nineteen fifty-one and", "DATE_OF_BIRTH",
     "the ninth of October nineteen fifty-one"),
    ("Nací el cuatro de julio de mil novecientos setenta y seis en Vigo.", "DATE_OF_BIRTH",
     "cuatro de julio de mil novecientos setenta y seis"),
    ("nasci em sete de maio de dois mil e dois, em Braga", "DATE_OF_BIRTH", "sete de maio de dois mil e dois"),
    ("the letter gives my patient record no. 31-208845, is that private?", "MEDICAL_RECORD", "31-208845"),
    ("payroll form: ni number qq123456c, start monday", "NATIONAL_ID", "qq123456c"),
    ("numero de passeport 18xb44120 pour le visa", "PASSPORT", "18xb44120"),
    ("carta de condução n.º L-552108 7, serve em Espanha?", "US_DRIVER_LICENSE", "L-552108 7"),
    ("Remplis le formulaire, n° d'adhérent 55120934, merci", "HEALTH_NUMBER", "55120934"),
    ("on se voit chez tom, schillerstr. 14, zweiter stock", "STREET_ADDRESS", "schillerstr. 14"),
    ("About my order: you can reach me on 07700 900461 after six.", "PHONE_NUMBER", "07700 900461"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES, ids=[f"{k}:{v}" for _, k, v in POSITIVES])
def test_detects_each_type_and_format(det: PiiDetector, text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(det, text)


def test_every_type_is_covered_by_a_positive_case() -> None:
    assert {k for _, k, _ in POSITIVES} == set(PII_TYPES)


BENIGN = [
    # documentation placeholders
    "Use alice@example.com or user@example.org in the docs, and admin@test.invalid in tests.",
    "In the film she dials 555-0123, and the ad says (415) 555-0199.",
    "Why does ping 192.0.2.10 fail? Also 198.51.100.7 and 203.0.113.99 and 2001:db8::1.",
    "My router is at 192.168.1.1 and the VM at 10.0.0.5; localhost is 127.0.0.1.",
    "Set DNS to 8.8.8.8 and 1.1.1.1.",
    "ssh git@github.com fails with publickey.",
    # look-alikes
    "Find the book with ISBN 978-3-16-148410-0.",
    "We upgraded to version 1.2.3.4 and build 10.0.19045.3570.",
    "The OID 1.3.6.1.4.1.311 belongs to Microsoft.",
    "Is 550e8400-e29b-41d4-a716-446655440000 a v4 UUID?",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 matches.",
    "Order #4829137744 has not arrived.",
    "Compute 18446744073709551616 mod 97.",
    "Call the function with 1234567890 as the seed.",
    "Call 1-800-356-9377 to order flowers.",
    "CAS number 7732-18-5 is water.",
    # test numbers and checksum failures
    "Stripe's test card 4242 4242 4242 4242 and 4111 1111 1111 1111 and AmEx 3782 822463 10005.",
    "Does 4532 0151 1283 0367 pass Luhn?",
    "Why is DE89 3704 0044 0532 0130 01 rejected by the validator?",
    "The textbook IBAN GB82 WEST 1234 5698 7654 32 explains the check digits.",
    "The SSNs 000-12-3456, 666-12-3456 and 987-65-4321 can never be issued.",
    # dates and people
    "On July 20, 1969, Apollo 11 landed. The Battle of Hastings was on 14 October 1066.",
    "Albert Einstein was born on March 14, 1879. Marie Curie was born on 7 November 1867.",
    "My kid's birthday party is on 05/14/2024; plan games.",
    "Why is Newton's second law F = ma? Compare the Bohr model with Schrödinger's.",
    "Write a letter to Isaac Newton explaining modern physics.",
    "Carol sued Dave for breach of contract; was the promise enforceable?",
    "Mr. Rogers' Neighborhood aired for 33 years.",
    "Dear Hiring Manager, please find my application attached.",
    # famous addresses
    "Sherlock Holmes lived at 221B Baker Street; the White House is at 1600 Pennsylvania Avenue.",
    # other languages: greetings without a name, historical births, versions, order numbers, barcodes
    "Hola a todos, ¿alguien sabe hacer una buena paella?",
    "Hallo zusammen, kennt jemand ein Rezept für Käsespätzle?",
    "Bonjour à tous ! Cordialement, l'équipe support",
    "Write a poem that begins 'Dear Autumn,' and ends with 'Yours, the Sea'.",
    "Goethe wurde am 28. August 1749 in Frankfurt geboren.",
    "Napoléon est né le 15 août 1769 à Ajaccio.",
    "Meine Bestellung Nr. 4871 0499 2286 ist nicht angekommen.",
    "Código de barras 4048554955653, ¿de qué producto es?",
    "¿Es estable la versión 10.4.2 del firmware?",
    "Ich bin Student und brauche Hilfe bei Mathe.",
    "Why is 172.16.0.0/12 a private range, and what about 10.0.0.0/8?",
    "El ticket INC0051234 sigue abierto; ¿cómo lo escalo?",
    "Write a regex for order codes like ORD-2024-771203.",
    "Nelson Mandela was born on 18 July 1918. What is Mandela Day?",
    # reference numbers are not phones (2026-12-07)
    "Ma commande n° 2231-884-1093 n'est toujours pas livrée, aide-moi à écrire au vendeur.",
    "La factura número 3-99120455871 tiene un error en el IVA.",
    "Meine Reklamation hat die Vorgangsnummer 0176 44829133, wie lange dauert das?",
]


@pytest.mark.parametrize(
    "text",
    [
        "My SSN is 078-05-1120, please update my tax form.",
        "Employee record: 123-45-6789, hired 2019.",
        "Is 078-05-1120 the famous Woolworth wallet SSN?",
    ],
)
def test_famous_sample_ssns_are_still_ssns(det: PiiDetector, text: str) -> None:
    """Issue 15.7: a structurally valid SSN in a user's message is personal data, however famous the number
    (078-05-1120 was used as their own by thousands of people); Presidio's sample list no longer exempts it."""
    assert [t for t, _ in found(det, text)] == ["US_SSN"]


@pytest.mark.parametrize("text", BENIGN)
def test_placeholders_and_lookalikes_are_not_flagged(det: PiiDetector, text: str) -> None:
    assert found(det, text) == []


def test_555_numbers_are_data_in_a_users_message_but_not_in_a_film(det: PiiDetector) -> None:
    assert found(det, "call me back at +1 (917) 555-0132 after 6") == [("PHONE_NUMBER", "+1 (917) 555-0132")]
    assert found(det, "In the movie he dials (917) 555-0132 at midnight.") == []


def test_check_digits_decide_bare_national_ids(det: PiiDetector) -> None:
    assert found(det, "ref 48291037F") == [("NATIONAL_ID", "48291037F")]
    assert found(det, "ref 48291037G") == []  # wrong DNI letter
    assert found(det, "doc 529.982.247-25") == [("NATIONAL_ID", "529.982.247-25")]
    assert found(det, "doc 529.982.247-26") == []  # wrong CPF check digits


def test_a_bare_name_needs_personal_context(det: PiiDetector) -> None:
    assert found(det, "Compare the views of Thomas Fischer and others on trade.") == []
    # the same name becomes personal data next to other personal data
    assert ("PERSON", "Thomas Fischer") in found(det, "Thomas Fischer, thomas.f@gmail.com, asked about trade.")
    # and a lower min_score flags it anyway (a deployment that wants every full name masked)
    low = PiiDetector(min_score=0.4)
    assert ("PERSON", "Thomas Fischer") in found(low, "Compare the views of Thomas Fischer and others on trade.")


def test_luhn_and_iban_checksums(det: PiiDetector) -> None:
    assert found(det, "card 4532015112830366") == [("CREDIT_CARD", "4532015112830366")]
    assert found(det, "card 4532015112830367") == []
    assert found(det, "IBAN GB33BUKB20201555555555") == [("IBAN_CODE", "GB33BUKB20201555555555")]
    assert found(det, "IBAN GB34BUKB20201555555555") == []


def test_context_bound_types_need_their_context(det: PiiDetector) -> None:
    assert found(det, "The code 123456789 is printed on the box.") == []
    assert found(det, "The event was on 03/14/1985 in Ohio.") == []
    assert found(det, "Record 00482913 was archived.") == []


def _types(det: PiiDetector, text: str) -> set[tuple[str, str]]:
    return {(t, v) for t, v in found(det, text) if t != "PERSON"}


def test_an_identifier_named_sentences_before_its_value(det: PiiDetector) -> None:
    """Issue 16, third round: the keyword in one sentence, the value later after a cue that introduces it."""
    assert ("US_DRIVER_LICENSE", "Q7731904") in _types(
        det, "My son needs his driving licence for the rental desk. He only has a photo of it. It says Q7731904."
    )
    assert ("PASSPORT", "YB2290417") in _types(
        det, "Mi pasaporte venció en mayo. Lo renové ayer y el número nuevo es YB2290417, ¿cambia el visado?"
    )
    assert ("MEDICAL_RECORD", "5519043") in _types(
        det, "O hospital perguntou pelo processo clínico da minha mãe. Encontrei na pulseira: 5519043."
    )
    # an order or ticket number between the keyword and the value is not the identifier
    assert _types(det, "I renewed my passport last week. My order number is 88120453 and it has not shipped.") == set()
    # nor is a keyboard run or one digit repeated typed as a placeholder
    assert _types(det, "The CPF field wants the format 000.000.000-00, is that right?") == set()


def test_identifier_acronyms_that_are_words_in_lower_case(det: PiiDetector) -> None:
    assert ("NATIONAL_ID", "318 204 967") in _types(det, "For the payroll form my SIN is 318 204 967.")
    assert _types(det, "Il est parti sin 20 euros, nas poches rien.") == set()  # "sin" / "nas" as words


def test_service_senders_and_lines_are_not_a_persons(det: PiiDetector) -> None:
    assert _types(det, "I got a mail from no-reply@tax.gov.example.org.uk about a refund, is it real?") == set()
    assert _types(det, "A mensagem veio de naoresponda@banco.com.br, posso confiar?") == set()
    assert _types(det, "The helpline of the council is 0800 112 3344, is it free?") == set()
    assert _types(det, "O SAC da operadora é 0800 771 2040, funciona no domingo?") == set()
    assert _types(det, "Our main switchboard is 020 7946 0321, can you put it in the footer?") == set()
    # a person's number stays one
    assert ("PHONE_NUMBER", "07700 912 345") in _types(det, "text me on 07700 912 345 when you land")


def test_a_payment_providers_test_card_is_not_a_card(det: PiiDetector) -> None:
    assert _types(det, "In the sandbox the test card 4929 1357 0246 8814 keeps failing") == set()
    assert ("CREDIT_CARD", "4929 1357 0246 8814") in _types(det, "my card 4929 1357 0246 8814 keeps failing")
    assert ("CREDIT_CARD", "4532 0151 1283 0366") in _types(det, "my card 4532 0151 1283 0366 was charged twice")


def test_a_question_about_a_named_persons_birth_is_trivia(det: PiiDetector) -> None:
    assert _types(det, "Quando nasceu a Hortênsia Marques? 12 de março de 1961, certo?") == set()
    assert _types(det, "Est-ce que Paulette Verdier est née le 4 mai 1958 ?") == set()
    # a statement (a record, a form) and someone of the user's own stay personal
    assert ("DATE_OF_BIRTH", "4 May 1958") in _types(det, "Summary: Paulette Verdier, born 4 May 1958, lives in Lyon.")
    assert ("DATE_OF_BIRTH", "4 de mayo de 1958") in _types(det, "¿Mi madre Paulette nació el 4 de mayo de 1958?")


def test_a_place_people_visit_is_not_an_address_someone_lives_at(det: PiiDetector) -> None:
    assert _types(det, "Das Rathaus Schöneberg, Martin-Luther-Straße 8, kann man das besichtigen?") == set()
    assert _types(det, "Le musée est au 12 rue des Archives, on peut y aller le lundi ?") == set()
    # the same address with the user's own or in an address field stays one
    assert {t for t, _ in _types(det, "Ich wohne Martin-Luther-Straße 8, kann man das ummelden?")} == {"STREET_ADDRESS"}
    assert {t for t, _ in _types(det, "Adresse : 12 rue des Archives, c'est bon ?")} == {"STREET_ADDRESS"}


@pytest.mark.parametrize(
    "text",
    [
        "The server hung, so I ran kill -9 on pid 48213 and restarted nginx.",
        "See RFC 7231 section 6.5.1: the status code is 40412 in our logs.",
        "My Synology NAS is a DS920+ and the firmware is 7.2.1-69057.",
        "Ajouter 3 dl de crème. Le code du four est 220C-45.",
        "O processo de deploy falhou no build. O erro é E50213 no pipeline de CI.",
        "Perdí la credencial de acceso al wifi, la red es LAB-5G-20931.",
        "El expediente de contratación pública del ayuntamiento es 2023/00451, ¿cómo lo consulto?",
    ],
)
def test_identifier_words_with_an_everyday_meaning_need_their_own_number(det: PiiDetector, text: str) -> None:
    """A process id, an internet RFC, a NAS box, decilitres, a deploy process, a wifi credential, a public file."""
    assert _types(det, text) == set()


def test_a_users_own_number_beside_an_organisation_word_stays_one(det: PiiDetector) -> None:
    assert ("PHONE_NUMBER", "(415) 555-2671") in _types(
        det, "For the customer service survey, my cell is (415) 555-2671."
    )
    assert ("PHONE_NUMBER", "06 12 34 56 78") in _types(det, "J'ai oublié mon sac, appelle-moi au 06 12 34 56 78.")
    assert ("CREDIT_CARD", "4929 1357 0246 8814") in _types(
        det, "This is not a test: charge my card 4929 1357 0246 8814"
    )


def test_catalan_streets_and_swiss_french_number_after_the_name(det: PiiDetector) -> None:
    assert ("STREET_ADDRESS", "Carrer de Provença 318") in _types(det, "Envia-ho a casa meva, Carrer de Provença 318.")
    assert ("STREET_ADDRESS", "Avenue de Beaulieu 12, 1004 Lausanne") in _types(
        det, "Mon adresse a changé : Avenue de Beaulieu 12, 1004 Lausanne."
    )
    assert _types(det, "Sur le plateau de Monopoly, la rue de la Paix 3 fois de suite ?") == set()


def test_numbers_that_belong_to_something_else(det: PiiDetector) -> None:
    assert _types(det, "Bestellung Nr. 204-7719302-5512874 kam nie an, was tun?") == set()  # an order, "Nr." and all
    assert _types(det, "Der 3-D-Secure-Test mit 4000 0027 6000 3184 schlägt fehl") == set()  # a test card, not a phone
    # a keyword glued to its abbreviation still leads to its value
    assert ("NATIONAL_ID", "L01X00T47") in _types(det, "Meine Personalausweisnr. ist L01X00T47, stimmt das Format?")


def test_config_filters_types_and_scores() -> None:
    only_email = PiiDetector(types=["EMAIL_ADDRESS"], ner=False)
    text = "mail jane.roe42@gmail.com, SSN 536-22-1234"
    assert [e.type for e in only_email.detect(text)] == ["EMAIL_ADDRESS"]
    strict = PiiDetector(min_score=0.92, ner=False)
    assert [e.type for e in strict.detect(text)] == ["US_SSN"]  # 0.95 with SSN context; e-mail scores 0.9
    with pytest.raises(ValueError, match="unknown"):
        PiiDetector(types=["SHOE_SIZE"])


def test_regex_only_mode_still_finds_introduced_names() -> None:
    det = PiiDetector(ner=False)
    assert det.ner is None
    text = "Hello, my name is Jessica Miller, reach me at jessica.m@gmail.com"
    assert ("PERSON", "Jessica Miller") in found(det, text)


def test_entities_are_sorted_non_overlapping_with_scores(det: PiiDetector) -> None:
    text = "Patient Mason Rodriguez, DOB 10/18/1962, MRN 7073685311, phone (212) 555-7890, mail m.rod@gmail.com"
    ents = det.detect(text)
    assert [e.start for e in ents] == sorted(e.start for e in ents)
    assert all(a.end <= b.start for a, b in itertools.pairwise(ents))
    assert all(0.5 <= e.score <= 1.0 for e in ents)
    # "MRN 7073685311" is also a valid US phone number: the context-bound type wins the overlap
    assert ("MEDICAL_RECORD", "7073685311") in found(det, text)
    assert {e.type for e in ents} == {"PERSON", "DATE_OF_BIRTH", "MEDICAL_RECORD", "PHONE_NUMBER", "EMAIL_ADDRESS"}


def test_shared_is_cached_per_config() -> None:
    a = PiiDetector.shared(PiiConfig())
    assert PiiDetector.shared(PiiConfig()) is a
    assert PiiDetector.shared(PiiConfig(min_score=0.7)) is not a


def test_concurrent_detect_from_threads(det: PiiDetector) -> None:
    text = "Dear Robert Chen, your card 4532 0151 1283 0366 was charged; call +1 415 555 2671."
    expected = det.detect(text)
    results: list[list[PiiEntity]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            r = det.detect(text)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and all(r == expected for r in results)


def test_long_text_reads_ner_windows_around_cues(det: PiiDetector) -> None:
    filler = "The committee reviewed the quarterly numbers and found nothing unusual. " * 60
    text = filler + "Please forward this to my colleague Danielle Ollivier today. " + filler
    assert ("PERSON", "Danielle Ollivier") in found(det, text)


def test_a_pasted_contact_list_is_read_whole(det: PiiDetector) -> None:
    """The phone pass stops after a budget of *rejected* digit runs per segment; kept phones do not count,
    so a list of 60 contacts in one segment (more than the budget) is still masked to the last line."""
    rows = [f"{i}. call +44 20 7946 {1000 + i:04d}" for i in range(60)]
    text = "\n".join(rows)
    assert len(text) <= 2048  # one segment
    phones = [v for k, v in found(det, text) if k == "PHONE_NUMBER"]
    assert len(phones) == 60 and phones[-1] == "+44 20 7946 1059"


def test_digit_noise_costs_a_bounded_number_of_phone_parses(det: PiiDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment of random numbers (a table, a dump) holds hundreds of phone-shaped runs; each parse costs
    ~0.2 ms, so the pass gives up after its budget of rejects instead of parsing them all. Counted, not
    timed: the number of parses is what the budget bounds."""
    import random

    import phonenumbers

    from semrouter.guards import pii_recognizers as rec

    rng = random.Random(7)
    noise = " ".join(str(rng.randint(10**5, 10**7)) for _ in range(260))[:2000]
    calls = 0
    real = phonenumbers.PhoneNumberMatcher._parse_and_verify

    def counting(self: object, candidate: str, offset: int) -> object:
        nonlocal calls
        calls += 1
        return real(self, candidate, offset)

    monkeypatch.setattr(phonenumbers.PhoneNumberMatcher, "_parse_and_verify", counting)
    rec.phone(noise, noise.lower())
    assert 0 < calls <= 6 * rec._MAX_PHONE_REJECTS, calls


MB = 1 << 20
ADVERSARIAL = {
    "capitalised words": "Ab " * (MB // 3),
    "dashed digits": "12-" * (MB // 3),
    "dotted digits": "12.3." * (MB // 5),
    "spaced digits": "1 2 " * (MB // 4),
    "upper alnum": "A1" * (MB // 2),
    "cues": "Hola María y Sr. Gutiérrez, pasaporte nº Saludos,\nLucía nacido el 3 de mayo de Calle de Toledo "
    * (MB // 98),
    "far keywords": "permis de conduire. numéro : is SIN passport # nº it says " * (MB // 58),
}


def _new_recognizers() -> dict[str, Callable[[str, str], object]]:
    from semrouter.guards import pii_recognizers as rec

    return {
        "national_phones": lambda t, lo: rec._national_phones(t, lo, []),
        "national_id": rec.national_id,
        "health_number": rec.health_number,
        "passport": rec.passport,
        "driver_license": rec.us_driver_license,
        "medical_record": rec.medical_record,
        "date_of_birth": rec.date_of_birth,
        "street_address": rec.street_address,
        "cue_names": lambda t, lo: rec.cue_names(t),
        "full_names": lambda t, lo: rec.full_names(t),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_new_recognizers_run_in_linear_time_on_a_megabyte(name: str) -> None:
    """The recognizers added for issue 16 each read a whole adversarial megabyte in one call (the detector
    would cut it into 2 KB segments first) in bounded time, and 4x the text costs about 4x the time (a
    quadratic pattern costs 16x): the ratio catches a quadratic regex on a loaded machine where an
    absolute limit would be either flaky or loose."""
    text = ADVERSARIAL[name]
    quarter = text[: len(text) // 4]

    def timed(fn: Callable[[str, str], object], t: str) -> float:
        lower = t.lower()
        t0 = time.perf_counter()
        fn(t, lower)
        return time.perf_counter() - t0

    for label, fn in _new_recognizers().items():
        times = [timed(fn, quarter), timed(fn, text)]
        if times[1] >= 8 * times[0] + 0.2:  # one pre-empted run on a shared machine: the best of two decides
            times = [min(times[0], timed(fn, quarter)), min(times[1], timed(fn, text))]
        assert times[1] < 10, (label, times)
        assert times[1] < 8 * times[0] + 0.2, (label, times)


# ------------------------------------------------------------------------------------------- mask / restore


def test_mask_numbers_distinct_values_and_reuses_repeated_ones(det: PiiDetector) -> None:
    text = "Mail anna.b@gmail.com or tom.k@gmail.com; again: anna.b@gmail.com. Card 4532 0151 1283 0366."
    masked, mapping = mask(text, det.detect(text))
    assert masked == "Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS_2>; again: <EMAIL_ADDRESS>. Card <CREDIT_CARD>."
    assert mapping == {
        "<EMAIL_ADDRESS>": "anna.b@gmail.com",
        "<EMAIL_ADDRESS_2>": "tom.k@gmail.com",
        "<CREDIT_CARD>": "4532 0151 1283 0366",
    }
    assert restore(masked, mapping) == text


def test_mask_skips_overlapping_spans() -> None:
    text = "abc 12345 def"
    ents = [PiiEntity("US_SSN", 4, 9, 0.9), PiiEntity("PHONE_NUMBER", 6, 13, 0.8)]
    assert mask(text, ents) == ("abc <US_SSN> def", {"<US_SSN>": "12345"})


def test_mask_round_trip_on_every_positive(det: PiiDetector) -> None:
    for text, _, value in POSITIVES:
        masked, mapping = mask(text, det.detect(text))
        assert value not in masked
        assert restore(masked, mapping) == text


def test_restorer_holds_back_split_placeholders() -> None:
    mapping = {"<PERSON>": "Ann Lee", "<PERSON_2>": "Bo Chan", "<EMAIL_ADDRESS>": "ann@gmail.com"}
    answer = "Hi <PERSON>, I wrote to <PERSON_2> at <EMAIL_ADDRESS>. 3 < 4 and <b>bold</b> <PERS"
    expected = "Hi Ann Lee, I wrote to Bo Chan at ann@gmail.com. 3 < 4 and <b>bold</b> <PERS"
    for size in (1, 2, 3, 5, 7, 64):
        r = Restorer(mapping)
        pieces = [answer[i : i + size] for i in range(0, len(answer), size)]
        out = []
        for p in pieces:
            emitted = r.feed(p)
            assert "<PERS" not in emitted and "<EMAIL" not in emitted  # never half a placeholder
            out.append(emitted)
        out.append(r.flush())
        assert "".join(out) == expected, size


def test_restorer_emits_immediately_when_nothing_can_be_a_placeholder() -> None:
    r = Restorer({"<PERSON>": "Ann"})
    assert r.feed("plain text ") == "plain text "
    assert r.feed("<PER") == ""
    assert r.feed("SON> ok") == "Ann ok"
    assert r.feed("<div>") == "<div>"
    assert Restorer({}).feed("<PERSON>") == "<PERSON>"
