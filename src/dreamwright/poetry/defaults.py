"""Defaults shared by 作诗姬's decoder, CLI and web page (a module of its own, so none of them imports another)."""

#: candidates written per poem by default (the likeliest per character is kept); timing in docs/poetry.md
DEFAULT_CANDIDATES = 8
