import json

import pytest

from dreamwright.data.pair_tokens import GO, TURN
from dreamwright.data.pairs import (
    Pair,
    conversation_pairs,
    dialogue_pairs,
    escape,
    join_turns,
    read_jsonl,
    read_tsv,
    speeches,
    unescape,
)
from dreamwright.errors import CorpusError
from dreamwright.poetry.data import parallel_couplets

PLAY = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

First Citizen:
Resolved. resolved.

MENENIUS:
What work's, my countrymen, in hand?
Where go you
"""


def test_tsv_pairs_with_escapes_and_empty_input(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("hello\thi there\nline\\none\ttab\\there\n\n\tjust a reply\n", encoding="utf-8")
    pairs = read_tsv(path).pairs
    assert pairs == [Pair("hello", "hi there"), Pair("line\none", "tab\there"), Pair("", "just a reply")]
    assert unescape(escape("a\tb\\nc\n")) == "a\tb\\nc\n"


def test_tsv_line_without_tab_names_file_and_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("a\tb\nno tab here\nc\td\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"p\.tsv:2: has no tab.*--skip-bad-lines"):
        read_tsv(path)
    skipped = read_tsv(path, skip_bad_lines=True)
    assert skipped.pairs == [Pair("a", "b"), Pair("c", "d")] and skipped.skipped == 1


def test_jsonl_each_user_turn_and_the_answer_make_a_pair_with_context(tmp_path):
    conv = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                         {"role": "user", "content": "How are you?"}, {"role": "assistant", "content": "Well."}]}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(conv) + "\n" + "[1, 2]\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: is not a conversation"):
        read_jsonl(path)
    pairs = read_jsonl(path, skip_bad_lines=True).pairs
    assert pairs == [Pair(f"Be brief.{TURN}Hi", "Hello"),
                     Pair(f"Be brief.{TURN}Hi{TURN}Hello{TURN}How are you?", "Well.")]


def test_context_budget_drops_oldest_turns_first():
    assert join_turns(["a" * 50, "b" * 10, "c" * 10], budget=25) == "b" * 10 + TURN + "c" * 10
    assert join_turns(["x" * 40], budget=25) == "x" * 25  # the newest turn keeps its end
    pairs = conversation_pairs([{"role": "user", "content": f"q{GO}"}, {"role": "assistant", "content": "a"}])
    assert pairs == [Pair("q", "a")]  # control characters never reach the model


def test_shakespeare_dialogue_pairs_a_speech_with_the_next_speaker():
    assert speeches(PLAY)[1] == ("All", "Speak, speak.")
    train, valid = dialogue_pairs(PLAY, valid_fraction=0.0)
    assert train[0] == Pair("Before we proceed any further, hear me speak.", "Speak, speak.")
    same_speaker = Pair("You are all resolved rather to die than to famish?", "Resolved. resolved.")
    assert same_speaker not in train
    assert train[-1].reply == "What work's, my countrymen, in hand?\nWhere go you"


def test_dialogue_held_out_tail_shares_no_speech_with_training():
    text = "\n\n".join(f"{'AB'[i % 2]}:\nspeech {i}" for i in range(100))
    train, valid = dialogue_pairs(text, valid_fraction=0.2)
    train_speeches = {p.source for p in train} | {p.reply for p in train}
    valid_speeches = {p.source for p in valid} | {p.reply for p in valid}
    assert valid and not train_speeches & valid_speeches


def test_tang_couplets_are_the_two_middle_couplets_of_regulated_verse():
    poems = [("五律", "一一一一一，二二二二二。三三三三三，四四四四四。"
                      "五五五五五，六六六六六。七七七七七，八八八八八。"),
             ("五绝", "甲甲甲甲甲，乙乙乙乙乙。丙丙丙丙丙，丁丁丁丁丁。")]
    assert parallel_couplets(poems) == [Pair("三三三三三", "四四四四四"), Pair("五五五五五", "六六六六六")]
