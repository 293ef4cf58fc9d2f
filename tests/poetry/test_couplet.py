"""对对子 with tiny random GRU models: every rule holds whatever the weights, judged by the independent checker
(benchmarks/couplet_check.py, which shares no code with the decoder)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from dreamwright.data.pair_tokens import EOS, GO, SPECIALS
from dreamwright.errors import InvalidArgument, VocabularyError
from dreamwright.poetry.couplet import CoupletWriter, lower_tones
from dreamwright.poetry.prosody import BOTH, PING, ZE, is_han
from tests.cli.helpers import assert_one_line_error, run_dreamwright
from tests.poetry.poetry_samples import EXTRA, FAMOUS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from couplet_check import judge, read_table  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")
P, Z = frozenset({PING}), frozenset({ZE})
#: 上联 ending in 仄 or in a character of both tones (a 下联 can then keep every rule)
UPPERS = ["春风又绿江南岸", "风吹水面层层浪", "海阔凭鱼跃", "两个黄鹂鸣翠柳", "白日依山尽", "大陆", "雨",
          "千山鸟飞绝万径人踪灭"]


def vocabulary(table) -> str:
    """Some 300 Han characters (the famous poems', the 上联's), none that only the traditional table fills (the
    checker reads the simplified one), plus the pair markers and a few non-Han tokens a 下联 must never take."""
    han = {c for c in "".join(FAMOUS.values()) + EXTRA + "".join(UPPERS) + "龙" if is_han(c)}
    han |= set("东同铜桐筒童僮瞳中衷忠虫终戎崇嵩弓躬宫融雄熊穹穷冯风枫丰充隆空公功工攻蒙笼聋珑洪红鸿虹丛翁葱")
    han |= set("董动孔总笼拢桶捅懂蓬送梦凤洞众瓮贡弄冻痛栋仲中讽恐控哄鞚屋木竹目服福禄熟谷肉族鹿腹菊陆轴逐牧")
    han = {c for c in han if table.in_primary(c) or not table.in_table(c)}
    return "".join(sorted(han)) + SPECIALS + "，。a "


def make_writer(table, seed: int = 0, chars: str | None = None, **options) -> CoupletWriter:
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer(chars if chars is not None else vocabulary(table))
    torch.manual_seed(seed)
    model = build_model("gru", tokenizer.vocab_size, hidden_size=32, embedding_size=16)
    return CoupletWriter(model, tokenizer, table=table, **options)


@pytest.fixture(scope="module")
def writer(table):
    return make_writer(table)


def assert_keeps_the_rules(couplet, table) -> None:
    upper, lower = couplet.upper, couplet.lower
    assert len(lower) == len(upper) and all(map(is_han, lower)), couplet
    assert judge(upper, lower) == {"length": True, "tones": True, "ends_ping": True}, couplet
    assert all(u != d for u, d in zip(upper, lower, strict=True)), couplet
    assert table.tones(lower[-1]) == P, couplet
    for i, need in enumerate(lower_tones(upper, table)):  # the decoder's own, stricter reading: one tone alone
        if need is not None and need != BOTH:
            assert table.tones(lower[i]) == need, (couplet, i)


# ---------------------------------------------------------------------------------------------- the rules
def test_the_two_tables_agree_on_every_simplified_character(table):
    """The decoder's 平水韵 table and the checker's own reader give each simplified character the same tones."""
    theirs = read_table()
    assert set(theirs) == set(table.primary)
    assert all(table.table_tones(c) == theirs[c] for c in table.primary)


def test_which_positions_are_fixed_and_to_what(table):
    # 春平 风平 又仄 绿仄 江平 南平 岸仄: the 2nd, 4th, 6th opposite, the last 平
    assert lower_tones("春风又绿江南岸", table) == [None, Z, None, P, None, Z, P]
    # 吹 has both tones (any known tone opposite it); 面仄; 层平; 浪 (both) is last: 平
    assert lower_tones("风吹水面层层浪", table) == [None, BOTH, None, P, None, Z, P]
    assert lower_tones("白日依山", table) == [None, P, None, P]  # ends 平: the 下联 still ends 平
    assert lower_tones("雨", table) == [P]


def test_the_masks_of_a_seven_character_line(writer, table):
    upper = "春风又绿江南岸"
    masks = writer.masks(upper)
    assert masks.shape == (8, len(writer.chars))
    allowed = [{writer.chars[i] for i in torch.nonzero(m).flatten().tolist()} for m in masks]
    assert allowed[-1] == {EOS}
    assert all(all(map(is_han, chars)) for chars in allowed[:-1])  # no EOS, punctuation or markers before
    for i, ch in enumerate(upper):
        assert ch not in allowed[i]
    han = {c for c in writer.chars if is_han(c)}
    assert allowed[0] == han - {"春"} and allowed[2] == han - {"又"}  # free positions
    assert allowed[1] and all(table.table_tones(c) == Z and table.in_primary(c) for c in allowed[1])
    assert allowed[3] and all(table.table_tones(c) == P for c in allowed[3])
    assert {"东", "风", "天"} & allowed[6] and not {"岸", "木", "动", "吹"} & allowed[6]
    both = writer.masks("风吹水面层层浪")[1]  # opposite 吹 (both tones): any character the table knows
    assert {writer.chars[i] for i in torch.nonzero(both).flatten().tolist()} == {
        c for c in han if table.table_tones(c) and table.in_primary(c)} - {"吹"}


def test_a_random_model_keeps_every_rule(table):
    for weights in range(3):
        writer = make_writer(table, seed=weights)
        for upper in UPPERS:
            for seed in range(20):
                couplets = writer.write(upper, seed=seed, candidates=4, n=4, temperature=1.5)
                assert couplets and not any(c.note for c in couplets)
                for couplet in couplets:
                    assert_keeps_the_rules(couplet, table)


def test_a_model_that_wants_to_break_them_cannot(table):
    """Weights pushed toward EOS, punctuation, the 上联's characters and the wrong tones change nothing."""
    writer = make_writer(table, seed=5)
    upper = "春风又绿江南岸"
    with torch.no_grad():
        head = writer.model.head.bias
        for ch in EOS + GO + "，。a" + upper + "春花东天":
            head[writer.index[ch]] += 40.0
    for kw in ({}, {"temperature": 0}, {"top_k": 3}, {"top_p": 0.5}):
        for seed in range(5):
            (couplet,) = writer.write(upper, seed=seed, **kw)
            assert_keeps_the_rules(couplet, table)


def test_a_line_ending_in_ping_gets_a_note(writer, table):
    for seed in range(5):
        (couplet,) = writer.write("白日依山", seed=seed)
        assert table.tones(couplet.lower[-1]) == P and couplet.lower[1] != "日"
        assert "ends in 平" in couplet.note and "「山」" in couplet.note
        assert judge("白日依山", couplet.lower) == {"length": True, "tones": False, "ends_ping": True}
        assert couplet.render().splitlines()[-1] == f"（{couplet.note}）"


def test_an_unknown_tone_opposite_allows_either_and_is_noted(writer, table):
    class Table:  # 风 of no known tone
        def tones(self, ch):
            return frozenset() if ch == "风" else table.tones(ch)

    assert lower_tones("春风又绿江南岸", Table()) == [None, BOTH, None, P, None, Z, P]
    blind = make_writer(table)
    blind._table = Table()
    assert "「风」" in blind.note("春风又绿江南岸") and not writer.note("春风又绿江南岸")


# ---------------------------------------------------------------------------------------------- ranking
def test_candidates_are_ranked_by_the_models_own_mean_log_probability(writer):
    upper = "春风又绿江南岸"
    every = writer.write(upper, seed=3, candidates=8, n=8)
    assert [c.logprob for c in every] == sorted((c.logprob for c in every), reverse=True)
    assert len({c.lower for c in every}) == len(every) and {c.candidate for c in every} <= set(range(8))
    assert writer.write(upper, seed=3, candidates=8)[0] == every[0]
    prompt = [writer.index[c] for c in upper] + [writer.index[GO]]
    for couplet in every[:3]:
        reply = [writer.index[c] for c in couplet.lower] + [writer.index[EOS]]
        with torch.no_grad():
            logits, _ = writer.model(torch.tensor([prompt + reply[:-1]]), None)
        logp = torch.log_softmax(logits[0, len(prompt) - 1:].float(), -1)
        mean = logp.gather(-1, torch.tensor(reply)[:, None]).mean().item()
        assert couplet.logprob == pytest.approx(mean, abs=1e-4)


def test_a_seed_repeats_and_one_candidate_is_candidate_zero(writer):
    assert writer.write("海阔凭鱼跃", seed=11, n=2) == writer.write("海阔凭鱼跃", seed=11, n=2)
    (alone,) = writer.write("海阔凭鱼跃", seed=11, candidates=1)
    assert alone.candidate == 0


def test_render_aligns_the_tone_marks(writer, table):
    (couplet,) = writer.write("春风又绿江南岸。", seed=2)
    assert couplet.upper == "春风又绿江南岸"
    up, down = couplet.render(table, marks=True).splitlines()
    assert up == "上联 春风又绿江南岸  平平仄仄平平仄"
    assert down.startswith(f"下联 {couplet.lower}  ") and len(down) == len(up) and down.endswith("平")
    assert couplet.render(table).splitlines() == ["上联 春风又绿江南岸", f"下联 {couplet.lower}"]


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("upper,error,needles", [
    ("", InvalidArgument, ["empty"]),
    (" ，。", InvalidArgument, ["empty"]),
    ("春风a", InvalidArgument, ["「a」", "Chinese characters only"]),
    ("春风，又绿", InvalidArgument, ["「，」"]),
    ("春风又绿江南岸明月何时照", InvalidArgument, ["12 characters", "11", "default limit", "shorter"]),
    ("春风又绿江南龍", VocabularyError, ["「龍」", "「龙」", "not in the model's vocabulary"]),
])
def test_bad_lines_are_one_line_errors(writer, upper, error, needles):
    with pytest.raises(error) as caught:
        writer.write(upper, seed=0)
    message = str(caught.value)
    assert "\n" not in message and all(n in message for n in needles), message


def test_bad_counts(writer):
    with pytest.raises(InvalidArgument, match="n .3. must be at most candidates .2."):
        writer.write("春风", candidates=2, n=3)
    with pytest.raises(InvalidArgument, match="candidates must be a positive integer"):
        writer.write("春风", candidates=0)


def test_a_position_no_character_can_fill_is_named(table):
    small = make_writer(table, chars="绿岸春" + SPECIALS)  # 绿 and 岸 are 仄 and 春 is the 上联's own
    with pytest.raises(VocabularyError, match="position 2 of the 下联") as caught:
        small.write("绿春")
    assert "only 平" in str(caught.value) and "\n" not in str(caught.value)
    small.write("春绿", seed=0)  # 岸 (仄) at 1, 春 (平) at 2: fine


def test_a_model_without_pair_markers_is_refused(table):
    with pytest.raises(VocabularyError, match="GO, EOS"):
        make_writer(table, chars="春风又绿江南岸")


# ---------------------------------------------------------------------------------------------- runs and CLI
@pytest.fixture(scope="module")
def couplet_run(tmp_path_factory, writer) -> Path:
    """The tiny model saved as a run directory, trained (it says) on 上联 of at most 7 characters."""
    from dreamwright.runs import atomic_save_tensors, model_tensors, write_config

    run = tmp_path_factory.mktemp("tiny-couplet")
    atomic_save_tensors(run / "model.safetensors", model_tensors(writer.model))
    write_config(run, {"name": "tiny-couplet", "tokenizer": writer.tokenizer.to_dict(),
                       "model": {"name": "gru", **writer.model.config()},
                       "corpus": {"corpus": "tiny", "longest_source": 7}})
    return run


def test_a_run_sets_the_longest_line(couplet_run, table):
    from dreamwright import poetry

    loaded = poetry.load_couplet_writer(str(couplet_run))
    assert loaded.max_length == 7
    with pytest.raises(InvalidArgument, match="8 characters, more than this model's 7 .the longest it was trained on"):
        loaded.write("春风又绿江南岸月")
    (couplet,) = poetry.write_couplets("春风又绿江南岸", str(couplet_run), seed=4, candidates=2)
    assert_keeps_the_rules(couplet, table)


def cli(*args: str):
    return run_dreamwright("couplet", *args, env={"PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")})


def test_cli_writes_couplets(couplet_run):
    proc = cli("春风又绿江南岸", "--run", str(couplet_run), "--seed", "1", "-n", "2", "--marks")
    assert proc.returncode == 0, proc.stderr
    blocks = [b.splitlines() for b in proc.stdout.strip().split("\n\n")]
    assert len(blocks) == 2
    for up, down in blocks:
        assert up.split() == ["上联", "春风又绿江南岸", "平平仄仄平平仄"]
        label, lower, marks = down.split()
        assert label == "下联" and len(marks) == 7
        assert judge("春风又绿江南岸", lower) == {"length": True, "tones": True, "ends_ping": True}


def test_cli_errors_are_one_line(couplet_run):
    from dreamwright import bundled

    assert_one_line_error(cli("春风a", "--run", str(couplet_run)), "「a」")
    assert_one_line_error(cli("春风又绿江南岸月", "--run", str(couplet_run)), "8 characters", "7")
    if bundled.find("tang-couplet") is None:
        assert_one_line_error(cli("春风又绿江南岸"), "tang-couplet", "--run RUN")


def test_a_random_seq2seq_model_keeps_them_too(table):
    """The model family trained on tang-couplets: it encodes the 上联 before GO and decodes the 下联 after it."""
    from dreamwright.data.pair_tokens import PAD
    from dreamwright.models import build_model
    from dreamwright.tokenizers.char import CharTokenizer

    tokenizer = CharTokenizer(vocabulary(table))
    torch.manual_seed(1)
    model = build_model("seq2seq", tokenizer.vocab_size, go_id=tokenizer.index[GO], pad_id=tokenizer.index[PAD],
                        n_layer=1, hidden_size=16, embedding_size=8)
    writer = CoupletWriter(model, tokenizer, table=table)
    for upper in UPPERS[:4]:
        for couplet in writer.write(upper, seed=7, candidates=4, n=4, temperature=1.5):
            assert_keeps_the_rules(couplet, table)
