import json

import pytest

from dreamwright.data import registry
from dreamwright.data.corpus import iter_text, resolve_corpus
from dreamwright.errors import CorpusError


def test_decoding_error_names_byte_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello world\n" * 3 + b"\xff tail")
    with pytest.raises(CorpusError, match="offset 36") as info:
        list(iter_text([path]))
    assert "--encoding" in str(info.value)
    assert "".join(iter_text([path], encoding="latin-1")).endswith("\xff tail")


def test_decoding_error_offset_across_chunks(tmp_path):
    path = tmp_path / "bad.txt"
    data = "é".encode() * 10 + b"\xc3"  # truncated two-byte sequence at the very end
    path.write_bytes(data)
    with pytest.raises(CorpusError, match="offset 20"):
        list(iter_text([path], chunk_bytes=3))


def test_folder_of_text_files(tmp_path):
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "a.txt").write_text("first ")
    (tmp_path / "notes.md").write_text("ignored")
    source = resolve_corpus(tmp_path)
    assert "".join(iter_text(source.train_files)) == "first second"


def test_unknown_corpus_lists_builtins():
    with pytest.raises(CorpusError, match="shakespeare"):
        resolve_corpus("no-such-corpus-anywhere")


def test_builtin_from_mirror_is_verified(tmp_path, monkeypatch):
    remote = registry.RemoteFile("tiny/t.txt", "http://127.0.0.1:9/t.txt", "0" * 64, 5)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "t.txt").write_text("hello")
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(tmp_path))
    with pytest.raises(CorpusError, match="sha256"):
        registry.fetch(remote)
    good = registry.RemoteFile("tiny/t.txt", remote.url, registry.sha256_of(tmp_path / "tiny" / "t.txt"), 5)
    assert registry.fetch(good) == tmp_path / "tiny" / "t.txt"


def test_download_failure_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path))
    remote = registry.RemoteFile("x/y.txt", "http://127.0.0.1:9/y.txt", "0" * 64, 5)  # port 9: refused
    with pytest.raises(CorpusError, match="DREAMWRIGHT_DATA") as info:
        registry.fetch(remote)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.rglob("*.part"))


def _encode(tmp_path, source, name, **kwargs):
    from dreamwright.data.corpus import encode_corpus

    return encode_corpus(source, tmp_path / name, **kwargs)


def test_parallel_encoding_matches_sequential(tmp_path, monkeypatch):
    import numpy as np

    from dreamwright.data import corpus

    monkeypatch.setattr(corpus, "CHUNK_BYTES", 1000)  # many chunks
    text = "".join(f"line {i} with some words and ünïcode ✓\n" for i in range(3000))
    (tmp_path / "big.txt").write_text(text, encoding="utf-8")
    source = resolve_corpus(tmp_path / "big.txt")
    for kind in ("char", "word"):
        tok1, seq = _encode(tmp_path, source, f"seq-{kind}", tokenizer_kind=kind, workers=1, cache=False)
        tok2, par = _encode(tmp_path, source, f"par-{kind}", tokenizer_kind=kind, workers=2, cache=False)
        for split in ("train", "valid"):
            assert np.array_equal(seq.array(split), par.array(split))
        assert seq.meta == par.meta
        assert seq.meta["train_chars"] + seq.meta["valid_chars"] == len(text)
        assert tok1.decode(seq.array("train").tolist() + seq.array("valid").tolist()).replace(" ", "")[:50] == \
            text.replace(" ", "")[:50]


def test_second_encoding_comes_from_the_cache(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "t.txt").write_text("hello cache world\n" * 200)
    source = resolve_corpus(tmp_path / "t.txt")
    _, first = _encode(tmp_path, source, "one")
    calls = []
    from dreamwright.tokenizers.char import CharTokenizer

    with monkeypatch.context() as patched:
        patched.setattr(CharTokenizer, "fit", classmethod(lambda cls, *a, **k: calls.append(1)))
        tok, second = _encode(tmp_path, source, "two")
    assert calls == []  # nothing was re-read or re-fitted
    assert np.array_equal(first.array("train"), second.array("train"))
    assert (tmp_path / "two" / "train.bin").stat().st_nlink >= 2  # hard-linked, not copied
    text = tok.decode(second.array("train").tolist() + second.array("valid").tolist())
    assert text == "hello cache world\n" * 200
    # a different tokenizer setting is a different cache entry
    _, lowered = _encode(tmp_path, source, "three", lower=True)
    assert lowered.directory == tmp_path / "three"


def test_document_mode_marks_file_boundaries(tmp_path):
    from dreamwright.data.corpus import END_OF_DOCUMENT

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("first document")
    (tmp_path / "docs" / "b.txt").write_text("second document")
    source = resolve_corpus(tmp_path / "docs")
    assert "".join(iter_text(source.train_files, separator=END_OF_DOCUMENT)) == \
        "first document" + END_OF_DOCUMENT + "second document"
    tok, enc = _encode(tmp_path, source, "enc", documents=True, valid_fraction=0.3, cache=False)
    ids = enc.array("train").tolist() + enc.array("valid").tolist()
    assert tok.decode(ids) == "first document" + END_OF_DOCUMENT + "second document"


def test_huge_character_vocabulary_uses_uint32(tmp_path):
    chars = [chr(c) for c in range(0x4E00, 0x9FFF)] + [chr(c) for c in range(0x20000, 0x20000 + 50000)]
    (tmp_path / "cjk.txt").write_text("".join(chars) * 2, encoding="utf-8")
    tok, enc = _encode(tmp_path, resolve_corpus(tmp_path / "cjk.txt"), "enc", cache=False)
    assert tok.vocab_size > 65536 and enc.meta["dtype"] == "uint32"
    assert tok.decode(enc.array("train")[:5].tolist()) == "".join(chars[:5])


def test_builtin_corpus_with_a_prepare_step(tmp_path):
    """Corpora stored as something other than text (the Tang JSON) are prepared into text first."""
    (tmp_path / "train.txt").write_text("【五绝】白日依山尽，黄河入海流。\n")
    (tmp_path / "valid.txt").write_text("【五绝】床前明月光，疑是地上霜。\n")
    registry.register_corpus(registry.BuiltinCorpus(
        "fake-json", "test", (), prepare=lambda: ([tmp_path / "train.txt"], [tmp_path / "valid.txt"])))
    try:
        source = resolve_corpus("fake-json")
        assert source.train_files == [tmp_path / "train.txt"] and source.valid_files == [tmp_path / "valid.txt"]
    finally:
        registry.BUILTIN_CORPORA.pop("fake-json")
    assert registry.lookup("tang") is not None and registry.lookup("tang").prepare is not None


FRENCH = (
    "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie éteinte, mes yeux se fermaient\n"
    "si vite que je n'avais pas le temps de me dire : « Je m'endors. » Et, une demi-heure après, la pensée qu'il\n"
    "était temps de chercher le sommeil m'éveillait ; je voulais poser le volume que je croyais avoir encore dans\n"
    "les mains et souffler ma lumière ; je n'avais pas cessé en dormant de faire des réflexions sur ce que je\n"
    "venais de lire, mais ces réflexions avaient pris un tour un peu particulier ; il me semblait que j'étais\n"
    "moi-même ce dont parlait l'ouvrage : une église, un quatuor, la rivalité de François Ier et de Charles Quint.\n"
)
CHINESE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n" * 3


@pytest.mark.parametrize("compress", ["gzip", "bz2", "lzma"])
def test_compressed_corpus_is_read_transparently(tmp_path, compress):
    import importlib

    module = importlib.import_module(compress)
    path = tmp_path / f"notes.txt.{ {'gzip': 'gz', 'bz2': 'bz2', 'lzma': 'xz'}[compress] }"
    path.write_bytes(module.compress(CHINESE.encode("utf-8")))
    source = resolve_corpus(path)
    assert source.name == "notes" and source.train_files == [path]
    assert "".join(iter_text([path], chunk_bytes=7)) == CHINESE  # tiny chunks: characters cut across reads


def test_folder_corpus_takes_gzipped_text_too(tmp_path):
    import gzip

    (tmp_path / "a.txt").write_text("plain ")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"zipped"))
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b"not text"))
    assert "".join(iter_text(resolve_corpus(tmp_path).train_files)) == "plain zipped"


@pytest.mark.parametrize(("text", "codec"), [(FRENCH, "latin-1"), (CHINESE, "gbk"), (CHINESE, "utf-16")])
def test_encoding_auto_detects_the_encoding(tmp_path, text, codec):
    from dreamwright.data.corpus import detect_encoding

    path = tmp_path / "text.txt"
    path.write_bytes(text.encode(codec))
    assert "".join(iter_text([path], encoding="auto")) == text
    expected = {"latin-1": {"cp1252", "latin_1", "iso8859_15"}, "gbk": {"gb18030", "gbk", "gb2312"}}
    assert detect_encoding(path) in expected.get(codec, {codec})


def test_encoding_auto_keeps_utf8_and_cuts_its_sample_at_a_line_end(tmp_path):
    from dreamwright.data.corpus import detect_encoding

    path = tmp_path / "big.txt"
    path.write_text(("x" * 80 + "é\n") * 400, encoding="utf-8")
    assert detect_encoding(path, sample_bytes=1001) == "utf-8"  # 1001 bytes would end inside "é"
    (tmp_path / "empty.txt").write_bytes(b"")
    assert detect_encoding(tmp_path / "empty.txt") == "utf-8"


def test_wrong_encoding_of_a_gz_file_advises_auto_not_latin1(tmp_path):
    import gzip

    path = tmp_path / "latin.txt.gz"
    path.write_bytes(gzip.compress(FRENCH.encode("latin-1")))
    with pytest.raises(CorpusError) as info:
        list(iter_text([path]))
    message = str(info.value)
    assert "decompressed" in message and "--encoding auto" in message and "latin-1" not in message
    assert "\n" not in message
    assert "".join(iter_text([path], encoding="auto")) == FRENCH


def test_not_text_gives_advice_that_fits(tmp_path):
    import gzip

    binary = tmp_path / "noise.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CorpusError, match="does not look like text"):
        list(iter_text([binary], encoding="auto"))
    archive = tmp_path / "corpus.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(CorpusError, match="zip archive.*unzip"):
        list(iter_text([archive]))
    broken = tmp_path / "cut.txt.gz"
    broken.write_bytes(gzip.compress(CHINESE.encode() * 50)[:60])
    with pytest.raises(CorpusError, match="corrupt or truncated gzip"):
        list(iter_text([broken]))
    with pytest.raises(CorpusError, match="unknown text encoding 'klingon'.*or auto"):
        list(iter_text([archive], encoding="klingon"))


def test_train_reads_a_gzipped_corpus_in_another_encoding(tmp_path):
    import gzip

    import dreamwright
    from tests.conftest import TINY_MODEL

    corpus = tmp_path / "proust.txt.gz"
    corpus.write_bytes(gzip.compress((FRENCH * 20).encode("latin-1")))
    result = dreamwright.train(corpus, tmp_path / "run", encoding="auto", steps=2, eval_interval=2, **TINY_MODEL)
    vocab = json.loads((tmp_path / "run" / "config.json").read_text())["tokenizer"]
    assert "é" in json.dumps(vocab, ensure_ascii=False) and result.steps == 2 and result.best_val_loss > 0
