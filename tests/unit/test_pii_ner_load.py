"""The NER pipeline's faster load (start-up budget) builds the same pipeline as a plain ``spacy.load``.

``semrouter.guards.pii._Ner`` imports spaCy without its command line, lets catalogue look entry points up
in a dict, and skips deserialising the tokenizer stored in the model package (the language factory has
already built one with the same rules). Each is checked here in a fresh interpreter, where spaCy has not
been imported yet: the tokenizer and the entities must equal those of the plain load, and ``spacy.cli``
must still import for real afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SENTENCES = [
    "My name is Laura Pérez and I live at 12 Baker Street, London.",
    "Dear Dr. O'Neill, please call me back at +1 415 555 0100 about my mother's test results.",
    "Angela Merkel met Emmanuel Macron in Berlin on 3 May 2021.",
    "can't won't shouldn't y'all gonna e.g. i.e. U.S.A. 3:30pm :-) https://example.com/a?b=c",
    "Write a short story about a lighthouse keeper named Tomás who finds a message in a bottle.",
]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from semrouter.guards import pii

    fast = pii._Ner.get().nlp
    after_load = sorted(name for name in sys.modules if name == "spacy.cli" or name.startswith("spacy.cli."))
    import spacy
    import spacy.cli  # the real command line, now that the placeholder is gone
    from spacy.util import registry

    registry._entry_point_factories.entry_points = False
    plain = spacy.load(pii.NER_MODEL, exclude=pii._NER_EXCLUDE)
    sentences = json.loads(sys.argv[1])
    ents = lambda nlp: [[(e.start_char, e.end_char, e.label_) for e in nlp(s).ents] for s in sentences]
    toks = lambda nlp: [[t.text for t in nlp.tokenizer(s)] for s in sentences]
    print(json.dumps({
        "cli_modules_after_load": after_load,
        "real_cli": hasattr(spacy.cli, "setup_cli"),
        "info_callable": callable(spacy.info),
        "tokenizer_bytes_equal": fast.tokenizer.to_bytes() == plain.tokenizer.to_bytes(),
        "pipes": [fast.pipe_names, plain.pipe_names],
        "ents": [ents(fast), ents(plain)],
        "tokens": [toks(fast), toks(plain)],
    }))
    """
)


@pytest.mark.slow  # a fresh interpreter loading spaCy twice: ~4 s
def test_fast_ner_load_builds_the_plain_pipeline() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(SENTENCES)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["cli_modules_after_load"] == []  # the placeholders did not outlive spaCy's import
    assert got["real_cli"] and got["info_callable"]
    assert got["tokenizer_bytes_equal"]
    fast_pipes, plain_pipes = got["pipes"]
    assert fast_pipes == plain_pipes == ["tok2vec", "ner"]
    fast_ents, plain_ents = got["ents"]
    assert fast_ents == plain_ents
    assert any(label == "PERSON" for sent in fast_ents for _, _, label in sent)  # the model did run
    assert got["tokens"][0] == got["tokens"][1]
