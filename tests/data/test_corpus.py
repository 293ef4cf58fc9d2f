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
