"""`poetry prepare` on a small traditional-character poem set the test writes."""

from __future__ import annotations

from dreamwright.poetry.data import clean_poem, parse_line, prepare, read_corpus
from dreamwright.poetry.prosody import check_poem

POEMS = [
    ("登鸛雀樓", "王之渙", ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"]),
    ("靜夜思", "李白", ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]),
    ("靜夜思", "李白", ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]),  # duplicate
    ("早發白帝城", "李白", ["朝辭白帝彩雲間，千里江陵一日還。", "兩岸猿聲啼不住，輕舟已過萬重山。"]),
    ("問", "某", ["君自故鄉來？應知故鄉事！", "來日綺窗前，寒梅著花未？"]),  # ？！ line ends
    (
        "注",
        "某",
        [
            "國破山河在（一作「存」），城春草木深。",
            "感時花濺淚，恨別鳥驚心。",
            "烽火連三月，家書抵萬金。",
            "白頭搔更短，渾欲不勝簪。",
        ],
    ),
    ("缺", "某", ["□□明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]),  # missing glyphs
    ("雜", "某", ["明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]),  # mixed lengths
    ("六句", "某", ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。", "白日依山盡，黃河入海流。"]),
]


def test_prepare_counts_tags_and_split(tmp_path):
    result = prepare(tmp_path, valid_fraction=0.3, poems=POEMS)
    assert result.poems_read == len(POEMS)
    assert result.kept == {"五绝": 3, "七绝": 1, "五律": 1}
    assert result.dropped == {
        "duplicates": 1,
        "non-Han text": 1,
        "other line lengths": 1,
        "other line counts": 1,
    }
    train = read_corpus(tmp_path / "train.txt")
    valid = read_corpus(tmp_path / "valid.txt")
    assert len(train) + len(valid) == 5 and train and valid  # held out by poem
    assert not {t for _, t in train} & {t for _, t in valid}
    texts = dict((t, f) for f, t in train + valid)
    assert texts["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"] == "五绝"  # simplified (OpenCC t2s)
    assert texts["君自故乡来，应知故乡事。来日绮窗前，寒梅著花未。"] == "五绝"  # ？！ become ，。
    assert "国破山河在，城春草木深。" in next(t for t, f in texts.items() if f == "五律")  # note removed
    raw = (tmp_path / "train.txt").read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("【") and parse_line(line)[0] in ("五绝", "七绝", "五律") for line in raw)
    again = prepare(tmp_path / "again", valid_fraction=0.3, poems=POEMS)
    assert again.valid == result.valid  # the split is a function of the poem text


def test_clean_poem():
    assert clean_poem(["春眠不覺曉，處處聞啼鳥。"]) == ["春眠不覺曉", "處處聞啼鳥"]
    assert clean_poem(["《春》眠不覺曉，「處處」聞啼鳥。"]) == ["春眠不覺曉", "處處聞啼鳥"]
    assert clean_poem(["疲{艹/尔}竟何人，灑涕巴東峽。"]) is None


def test_bundled_model_writes_regulated_verse(table):
    from dreamwright import bundled
    from dreamwright.poetry import BUNDLED_MODEL, load_writer

    if bundled.find(BUNDLED_MODEL) is None:
        import pytest

        pytest.skip("no bundled tang-poetry model in this checkout")
    writer = load_writer()
    for form in ("五绝", "七绝"):
        for poem in writer.write(form, num_samples=3, seed=0, acrostic="春？风！"):
            report = check_poem(poem.text, table, form)
            assert report.regulated and poem.text.startswith("春")
