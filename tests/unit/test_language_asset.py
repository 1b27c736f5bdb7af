"""The shipped language-model asset stands in for py3langid's own model without changing one judgment.

``semrouter/signals/assets/language_model.zlib`` is py3langid's model cut to ``LANGUAGES`` and stored for a
fast load (start-up budget). These tests check that it was cut from the installed package's model, that its
arrays are exactly what ``set_languages`` keeps, that both identifiers score alike, and that a stale or
missing asset falls back to the package's model instead of judging with the wrong arrays.
"""

# ruff: noqa: RUF001  (non-English text is the point)
from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pytest

from semrouter import lang

TEXTS = [
    "Can you help me write a cover letter for a junior accountant job?",
    "¿Me ayudas a escribir una carta de presentación para un puesto de contable?",
    "Peux-tu m'aider à rédiger une lettre de motivation pour un poste de comptable ?",
    "Помоги мне написать сопроводительное письмо на должность бухгалтера",
    "你能帮我写一封应聘会计职位的求职信吗？",
    "経理職に応募するためのカバーレターを書くのを手伝ってもらえますか？",
    "هل يمكنك مساعدتي في كتابة خطاب تقديم لوظيفة محاسب؟",
    "Kannst du mir helfen, ein Anschreiben zu schreiben?",
    "ok",
    "Zdravo, kako si? Ovo je rečenica na srpskom jeziku, latinicom.",
    "Здраво, како си? Ово је реченица на српском језику.",
]


@pytest.fixture(scope="module")
def package_ident() -> object:
    return lang._load_package_model()


def test_asset_matches_the_installed_package_model() -> None:
    header, _ = lang.read_asset()
    assert header["source"] == lang._package_model_digest()
    assert tuple(header["languages"]) == lang.LANGUAGES
    assert lang._load_asset() is not None


def test_asset_arrays_are_what_set_languages_keeps(package_ident: object) -> None:
    ident = lang._load_asset()
    assert ident is not None
    ref: object = package_ident
    assert ident.nb_classes == ref.nb_classes  # type: ignore[attr-defined]
    assert ident.nb_ptc.dtype == ref.nb_ptc.dtype  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ident.nb_ptc, ref.nb_ptc)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ident.nb_pc, ref.nb_pc)  # type: ignore[attr-defined]
    assert ident.tk_nextmove == ref.tk_nextmove  # type: ignore[attr-defined]
    assert ident.tk_row == ref.tk_row  # type: ignore[attr-defined]
    assert ident.tk_output == ref.tk_output  # type: ignore[attr-defined]


def test_asset_and_package_identifiers_judge_alike(package_ident: object) -> None:
    ident = lang._load_asset()
    assert ident is not None
    for text in TEXTS:
        assert ident.classify(text) == package_ident.classify(text), text  # type: ignore[attr-defined]
        np.testing.assert_array_equal(ident.rank(text), package_ident.rank(text))  # type: ignore[attr-defined]


def test_stale_asset_falls_back_to_the_package_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    packed = lang.ASSET.read_bytes()
    raw = zlib.decompress(packed[8:])
    digest = lang._package_model_digest().encode()
    assert raw.count(digest) == 1
    stale = tmp_path / "language_model.zlib"
    stale.write_bytes(packed[:8] + zlib.compress(raw.replace(digest, b"0" * 64), 1))  # cut from another model
    with caplog.at_level(logging.WARNING, logger="semrouter.lang"):
        assert lang._load_asset(stale) is None
    assert "another py3langid model" in caplog.text
    with caplog.at_level(logging.WARNING, logger="semrouter.lang"):
        assert lang._load_asset(tmp_path / "missing.zlib") is None
    assert "missing" in caplog.text


@pytest.mark.slow  # compressing 55 MB of arrays: ~2.5 s
def test_write_asset_reproduces_the_shipped_arrays(tmp_path: Path) -> None:
    path = lang.write_asset(tmp_path / "language_model.zlib")
    assert path.read_bytes() == lang.ASSET.read_bytes()
