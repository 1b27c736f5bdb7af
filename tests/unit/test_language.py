"""The ``language`` signal and detector: right on ordinary chat turns in the languages a gateway meets,
``und`` where nothing can be told, bounded on pasted megabytes, and usable in decision rules.

The sentences below were written for this test (none comes from py3langid's training corpora, which
are Wikipedia, Debian translations, JRC-Acquis and the like): requests as people type them to a chat
assistant, several per language, short and long.
"""

# ruff: noqa: RUF001  (non-English chat turns are the point)
from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from semrouter.config.schema import RouterConfig
from semrouter.dryrun import route_request
from semrouter.lang import UNDETERMINED, detect
from semrouter.stages import build_pipeline

CHAT = {
    "en": [
        "Can you help me write a cover letter for a junior accountant job?",
        "what's the difference between a roth ira and a traditional one",
        "My sourdough never rises properly, what am I doing wrong?",
    ],
    "es": [
        "¿Me ayudas a escribir una carta de presentación para un puesto de contable?",
        "cual es la diferencia entre un virus y una bacteria",
        "Necesito ideas para el cumpleaños de mi hija, cumple seis años",
    ],
    "pt": [
        "Você pode me ajudar a escrever uma carta de apresentação para uma vaga de contador?",
        "qual a diferença entre juros simples e juros compostos",
        "Preciso de ideias para o aniversário da minha filha, ela faz seis anos",
    ],
    "fr": [
        "Peux-tu m'aider à rédiger une lettre de motivation pour un poste de comptable ?",
        "quelle est la différence entre un virus et une bactérie",
        "J'ai besoin d'idées pour l'anniversaire de ma fille, elle fête ses six ans",
    ],
    "de": [
        "Kannst du mir helfen, ein Anschreiben für eine Stelle als Buchhalter zu schreiben?",
        "was ist der unterschied zwischen einem virus und einem bakterium",
        "Ich brauche Ideen für den Geburtstag meiner Tochter, sie wird sechs",
    ],
    "it": ["Mi aiuti a scrivere una lettera di presentazione per un lavoro da contabile?"],
    "nl": ["Kun je me helpen een sollicitatiebrief te schrijven voor een baan als boekhouder?"],
    "ru": [
        "Помоги мне написать сопроводительное письмо на должность бухгалтера",
        "в чем разница между вирусом и бактерией",
    ],
    "uk": ["Допоможи мені написати супровідний лист на посаду бухгалтера, будь ласка"],
    "zh": ["你能帮我写一封应聘会计职位的求职信吗？", "病毒和细菌有什么区别"],
    "ja": ["経理職に応募するためのカバーレターを書くのを手伝ってもらえますか？", "ウイルスと細菌の違いは何ですか"],
    "ko": ["회계 직무에 지원하기 위한 자기소개서 작성을 도와줄 수 있나요?"],
    "ar": ["هل يمكنك مساعدتي في كتابة خطاب تقديم لوظيفة محاسب؟", "ما الفرق بين الفيروس والبكتيريا"],
    "hi": ["क्या आप अकाउंटेंट की नौकरी के लिए कवर लेटर लिखने में मेरी मदद कर सकते हैं?", "वायरस और बैक्टीरिया में क्या अंतर है"],
    "tr": ["Muhasebeci pozisyonu için bir ön yazı yazmama yardım eder misin?"],
    "pl": ["Czy możesz mi pomóc napisać list motywacyjny na stanowisko księgowego?"],
    "vi": ["Bạn có thể giúp tôi viết thư xin việc cho vị trí kế toán không?"],
}


@pytest.mark.parametrize("code", sorted(CHAT))
def test_chat_turns_get_their_language(code: str) -> None:
    for text in CHAT[code]:
        got = detect(text)
        assert got.code == code, (text, got)
        assert got.confidence >= 0.3, (text, got)  # the signal's default min_confidence


@pytest.mark.parametrize("text", ["", "1234 5678", "```\n}\n```", "🙂🙂", "ok", "hi"])
def test_nothing_to_tell_is_undetermined(text: str) -> None:
    assert detect(text).code == UNDETERMINED


def test_a_pasted_megabyte_costs_what_a_chat_turn_costs() -> None:
    detect("warm-up")
    text = "Das ist ein sehr langer deutscher Text über Wärmepumpen. " * 20_000
    t0 = time.perf_counter()
    got = detect(text)
    assert time.perf_counter() - t0 < 0.05  # reads MAX_CHARS characters, not 1.1 MB
    assert got.code == "de"


def _config(**signal: Any) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "models": [
                {"name": "general", "endpoints": [{"url": "http://127.0.0.1:9"}]},
                {"name": "euro", "endpoints": [{"url": "http://127.0.0.1:9"}]},
            ],
            "signals": [{"name": "lang", "type": "language", **signal}],
            "decisions": [
                {"name": "default", "models": [{"model": "general"}]},
                {"name": "euro", "rules": {"signal": "lang", "one_of": ["de", "fr"]}, "models": [{"model": "euro"}]},
            ],
            "routing": {"default_decision": "default"},
        }
    )


def test_unknown_language_code_is_a_precise_config_error() -> None:
    with pytest.raises(ValidationError) as err:
        _config(languages=["de", "german"])
    assert "unknown language code(s) ['german']" in str(err.value)


async def test_decisions_route_on_the_language_and_dry_runs_report_it() -> None:
    config = _config()
    pipeline = build_pipeline(config)
    german = await route_request(config, pipeline, {"text": CHAT["de"][0]})
    assert german["decision"] == "euro"
    assert german["language"]["code"] == "de"
    assert german["signals"]["lang"]["value"] == "de"
    english = await route_request(config, pipeline, {"text": CHAT["en"][0]})
    assert english["decision"] == "default"
    assert english["language"]["code"] == "en"
    # a turn too short to tell takes no language decision
    short = await route_request(config, pipeline, {"text": "ok"})
    assert short["decision"] == "default"
    assert short["signals"]["lang"]["value"] == UNDETERMINED


async def test_signal_matches_only_the_listed_languages_at_the_confidence_asked() -> None:
    config = _config(languages=["fr"], min_confidence=0.9)
    pipeline = build_pipeline(config)
    fr = await route_request(config, pipeline, {"text": CHAT["fr"][0]})
    assert fr["signals"]["lang"]["matched"] is True
    de = await route_request(config, pipeline, {"text": CHAT["de"][0]})
    assert de["signals"]["lang"]["matched"] is False
