"""IBANs: a shape, a mod-97 checksum and the country's account format.

Adapted from Presidio's ``IbanRecognizer`` and its per-country formats (Microsoft, MIT licence), which the
PII guard used to import: importing ``presidio_analyzer`` pulled in its NLP engine and registry and cost
about 0.9 s of the router's start for three regular expressions. What is kept is its logic: find
IBAN-shaped runs (groups of four, spaces or dashes between them), and for each take the longest reading
whose digits check out (ISO 13616 mod 97 = 1) and whose account part has the country's format.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator

__all__ = ["find_ibans"]

_SHAPE = re.compile(
    r"(?<![A-Z0-9])([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6})"
    r"((?:[ -]?[A-Z0-9]{4})?)((?:[ -]?[A-Z0-9]{1,3})?)(?![A-Z0-9])"
)
"""Presidio's generic pattern: a reading ends after group 1, 2 or 3, the longest tried first."""
_SHAPE_LOWER = re.compile(
    r"(?<![A-Za-z0-9])([a-z]{2}[0-9]{2}(?:[ -]?[0-9]{4}){2,6})"
    r"((?:[ -]?[0-9]{4})?)((?:[ -]?[0-9]{1,3})?)(?![A-Za-z0-9])"
)
"""The same typed in lower case ("mi iban es es62 6654 ..."), for the all-digit accounts of most of Europe: the
check digits still have to hold, so a lower-case word followed by numbers is not an IBAN."""

# The account part (BBAN) after the country code and check digits: counts of n (digit), a (capital letter),
# c (letter or digit) and z (a literal 0), in order.
_FORMATS = {
    "AL": "8n,16c",
    "AD": "8n,12c",
    "AT": "16n",
    "AZ": "4c,20n",
    "BH": "4a,14c",
    "BY": "4c,4n,16c",
    "BE": "12n",
    "BA": "16n",
    "BR": "23n,1a,1c",
    "BG": "4a,6n,8c",
    "CR": "1z,17n",
    "HR": "17n",
    "CY": "8n,16c",
    "CZ": "20n",
    "DK": "14n",
    "DO": "4a,20n",
    "TL": "19n",
    "EE": "16n",
    "FO": "14n",
    "FI": "14n",
    "FR": "10n,11c,2n",
    "GE": "2c,16n",
    "DE": "18n",
    "GI": "4a,15c",
    "GR": "7n,16c",
    "GL": "14n",
    "GT": "24c",
    "HU": "24n",
    "IS": "22n",
    "IE": "4c,14n",
    "IL": "19n",
    "IT": "1a,10n,12c",
    "JO": "4a,22n",
    "KZ": "3n,13c",
    "XK": "16n",
    "KW": "4a,22c",
    "LV": "4a,13c",
    "LB": "4n,20c",
    "LI": "5n,12c",
    "LT": "16n",
    "LU": "3n,13c",
    "MT": "4a,5n,18c",
    "MR": "23n",
    "MU": "4a,19n,1a",
    "MD": "20c",
    "MC": "10n,11c,2n",
    "ME": "18n",
    "NL": "4a,10n",
    "MK": "3n,10c,2n",
    "NO": "11n",
    "PK": "4c,16n",
    "PS": "4c,17n",
    "PL": "24n",
    "PT": "17n",
    "QA": "4a,17c",
    "RO": "4a,16c",
    "SM": "1a,10n,12c",
    "SA": "2n,18c",
    "RS": "18n",
    "SK": "20n",
    "SI": "15n",
    "ES": "20n",
    "SE": "20n",
    "CH": "5n,12c",
    "TN": "20n",
    "TR": "5n,17c",
    "AE": "19n",
    "GB": "4a,14n",
    "VA": "18n",
    "VG": "4c,16n",
    "EG": "25n",
    "IQ": "4a,15n",
    "LY": "21n",
    "LC": "4a,24c",
    "SC": "4a,20n,3a",
    "UA": "6n,19c",
}
_CLASS = {"n": "[0-9]", "a": "[A-Z]", "c": "[a-zA-Z0-9]", "z": "0"}


def _bban(spec: str) -> str:
    return "".join(f"{_CLASS[part[-1]]}{{{part[:-1]}}}" for part in spec.split(","))


_COUNTRY = {cc: re.compile(rf"{cc}[0-9]{{2}}{_bban(spec)}") for cc, spec in _FORMATS.items()}
_DIGITS = {ord(d): str(i) for i, d in enumerate(string.digits + string.ascii_uppercase)}


def _checksum_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1."""
    rearranged = (iban[4:] + iban[:4]).upper().translate(_DIGITS)
    return rearranged.isdigit() and int(rearranged) % 97 == 1


def _valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").replace("-", "")
    if not _checksum_ok(iban):
        return False
    fmt = _COUNTRY.get(iban[:2].upper())
    return fmt is not None and (fmt.match(iban) is not None or fmt.match(iban.upper()) is not None)


def find_ibans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each valid IBAN in ``text``: per shape match, the longest valid reading
    ("DE89 3704 0044 0532 0130 00 2 days" is the IBAN without the trailing "2")."""
    for m in itertools.chain(_SHAPE.finditer(text), _SHAPE_LOWER.finditer(text)):
        start = m.start()
        for group in (3, 2, 1):
            end = m.end(group) if m.end(group) > 0 else m.end()
            if end > start and _valid(text[start:end]):
                yield start, end
                break
