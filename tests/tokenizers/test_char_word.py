from hypothesis import given, settings
from hypothesis import strategies as st

from dreamwright.errors import VocabularyError
from dreamwright.tokenizers import tokenizer_from_dict
from dreamwright.tokenizers.char import CharTokenizer
from dreamwright.tokenizers.word import EOS, WordTokenizer


@given(st.text(min_size=1))
@settings(max_examples=200)
def test_char_round_trip_any_text(text):
    tok = CharTokenizer.fit([text])
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.encode_chunk(text).tolist() == ids
    again = tokenizer_from_dict(tok.to_dict())
    assert again.decode(again.encode(text)) == text


#: any word but the newline marker ``<eos>``, which the text itself may not use (see the test below)
word = st.text(alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=8).filter(
    lambda w: w != EOS)


@given(st.lists(st.lists(word, min_size=1, max_size=6), min_size=1, max_size=6))
@settings(max_examples=200)
def test_word_round_trip_normalised_text(lines):
    text = "\n".join(" ".join(line) for line in lines)
    tok = WordTokenizer.fit([text])
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode_chunk(text).tolist() == tok.encode(text)


def test_a_literal_eos_marker_reads_as_a_line_break():
    """``<eos>`` is the word tokenizer's name for a newline (PTB's convention), so the word itself in a text is
    read as one: the one text a word model cannot write back as it was."""
    tok = WordTokenizer.fit(["a <eos> b\nc"])
    assert tok.encode("a <eos> b") == tok.encode("a\nb")
    assert tok.decode(tok.encode("a <eos> b")) == "a\nb"


def test_word_vocabulary_keeps_top_n_and_maps_rest_to_unk():
    tok = WordTokenizer.fit(["a a a b b c\nd"], vocab_size=4)  # <eos>, <unk>, a, b
    assert tok.vocab_size == 4
    ids = tok.encode_chunk("a c b")
    assert tok.decode(ids) == "a <unk> b"


def test_unknown_characters_are_named_or_skipped():
    tok = CharTokenizer.fit(["abc"])
    try:
        tok.encode("abz!")
    except VocabularyError as exc:
        assert "'z'" in str(exc) and "'!'" in str(exc) and "unknown='skip'" in str(exc)
    else:
        raise AssertionError("unknown characters were accepted")
    assert tok.decode(tok.encode("abz!", unknown="skip")) == "ab"


def test_dtype_follows_vocabulary_size():
    assert CharTokenizer("ab").dtype().name == "uint8"
    assert CharTokenizer(chr(0x4E00 + i) for i in range(300)).dtype().name == "uint16"
    assert CharTokenizer(chr(0x4E00 + i) for i in range(70000)).dtype().name == "uint32"
