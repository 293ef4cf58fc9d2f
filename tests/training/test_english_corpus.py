"""The corpus builder of the bundled ``english-char`` model turns WikiText back into running text."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "build_english_corpus.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_english_corpus", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wikitext_tokenization_is_undone():
    b = _builder()
    line = ' The game @-@ like , " quoted " text ( 1 @.@ 5 @,@ 000 ) . It has <unk> here . The player \'s wife – yes ! '
    assert b.detokenize(line) == 'The game-like, "quoted" text (1.5,000). The player\'s wife - yes!'
    assert b.to_ascii("Café naïve “x”") == 'Cafe naive "x"'


def test_headings_and_short_lines_are_dropped(tmp_path):
    path = tmp_path / "wiki.train.tokens"
    path.write_text(" \n = Title = \n \n = = Section = = \n A sentence long enough to keep , with a comma in it . \n"
                    " Too short . \n", encoding="utf-8")
    assert _builder().wikitext_paragraphs(path) == ["A sentence long enough to keep, with a comma in it."]
