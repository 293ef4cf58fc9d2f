"""The examples of README.md and docs/*.md marked ``<!-- checked -->`` run and print what the docs show.

After a change of output, ``DREAMWRIGHT_UPDATE_DOCS=1 python -m pytest tests/test_docs_examples.py`` rewrites
the expected outputs in place (review the diff). How the marker works: docs/contributing.md.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs_examples import (
    REPO_ROOT,
    UPDATE_ENV,
    Block,
    MarkerError,
    find_checked_blocks,
    merge_output,
    output_matches,
    run_block,
    shared_server,
    update_block,
    update_requested,
)

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
BLOCKS = [block for path in DOC_FILES for block in find_checked_blocks(path)]


@pytest.fixture(scope="session")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``dreamwright serve`` for the blocks marked ``server``; its ``HOST:PORT``."""
    with shared_server(tmp_path_factory.mktemp("docs-server")) as address:
        yield address


_RESULTS: dict[tuple, list] = {}  # a block repeated verbatim elsewhere (README and docs/poetry.md) runs once


def check_block(block: Block, workdir: Path, address: str | None = None) -> None:
    """Run the block; fail with each differing example's place, command and diff, or rewrite it when asked."""
    key = (block.lang, block.body, block.server)
    if key not in _RESULTS:
        _RESULTS[key] = run_block(block, workdir, address)
    mismatches = _RESULTS[key]
    if mismatches and update_requested():
        update_block(block, mismatches)
    elif mismatches:
        pytest.fail("\n\n".join(m.report(block) for m in mismatches)
                    + f"\n\n({UPDATE_ENV}=1 rewrites the docs with the actual output)", pytrace=False)


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_documented_example(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    missing = [name for name in block.needs_env if not os.environ.get(name)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    workdir = tmp_path / "work"
    workdir.mkdir()
    check_block(block, workdir, request.getfixturevalue("docs_server") if block.server else None)


def test_the_docs_have_checked_examples() -> None:
    """A marker typo must not silently turn the checks off."""
    checked = {block.path.name for block in BLOCKS}
    assert {"README.md", "poetry.md", "serving.md"} <= checked


# ---------------------------------------------------------------------------------------- the runner itself

SYNTHETIC = textwrap.dedent("""\
    # A page

    <!-- checked -->
    ```console
    $ echo one && \\
        echo two
    one
    two

    $ printf 'id-%s\\n' $RANDOM
    id-…
    ```

    <!-- checked -->
    ```console
    $ echo right
    wrong
    ```

    ````markdown
    <!-- checked -->
    ```console
    $ echo never run: an example of a marker, inside a block
    ```
    ````

    - a list item:

      <!-- checked -->
      ```python
      >>> 6 * 7
      41
      >>> print("same")
      same
      ```
    """)


@pytest.fixture()
def synthetic_page(tmp_path: Path) -> Path:
    page = tmp_path / "page.md"
    page.write_text(SYNTHETIC, encoding="utf-8")
    return page


def test_runner_finds_only_marked_blocks(synthetic_page: Path) -> None:
    blocks = find_checked_blocks(synthetic_page)
    assert [(b.fence_line, b.lang) for b in blocks] == [(4, "console"), (15, "console"), (30, "python")]


def test_runner_passes_a_matching_block_and_fails_a_drifted_one(synthetic_page: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    matching, drifted, doctest_block = find_checked_blocks(synthetic_page)
    check_block(matching, tmp_path)
    with pytest.raises(pytest.fail.Exception) as failure:
        check_block(drifted, tmp_path)
    report = str(failure.value)
    assert "page.md:16: $ echo right" in report
    assert "-wrong\n+right" in report
    with pytest.raises(pytest.fail.Exception) as failure:
        check_block(doctest_block, tmp_path)
    assert "page.md:31: >>> 6 * 7" in str(failure.value) and "-41\n+42" in str(failure.value)


def test_update_mode_rewrites_only_what_differs(synthetic_page: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(UPDATE_ENV, "1")
    for block in find_checked_blocks(synthetic_page):
        check_block(block, tmp_path)
    expected = SYNTHETIC.replace("$ echo right\nwrong", "$ echo right\nright").replace("  41\n", "  42\n")
    assert synthetic_page.read_text(encoding="utf-8") == expected


def test_elisions() -> None:
    assert output_matches(["id …, at …", "..."], ["id 7f3a, at 12:00", "more", "lines"])
    assert output_matches(["first", "…", "last"], ["first", "last"])
    assert not output_matches(["id …"], ["id 7f3a", "extra"])
    assert not output_matches(["a…c"], ["abd"])
    assert merge_output(["a", "b", "c …"], ["a", "B", "c 3"]) == ["a", "B", "c …"]
    assert merge_output(["id …", "old", "..."], ["id 9", "new", "x"]) == ["id …", "..."]
    assert merge_output(['{"id":"c-…","t":"a"}'], ['{"id":"c-9f","t":"b"}']) == ['{"id":"c-…","t":"b"}']


def test_a_marker_without_a_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("<!-- checked -->\n\n```console\n$ true\n```\n", encoding="utf-8")
    with pytest.raises(MarkerError, match="bad.md:1"):
        find_checked_blocks(page)
    page.write_text("<!-- checked: servr -->\n```console\n$ true\n```\n", encoding="utf-8")
    with pytest.raises(MarkerError, match="unknown option 'servr'"):
        find_checked_blocks(page)
