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
