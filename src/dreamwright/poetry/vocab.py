"""A character model's vocabulary in the verse rules' terms, shared by 作诗姬 and 对对子: which tokens are Han
characters, their 平水韵 tones as masks, and the one error for characters the model lacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from dreamwright.errors import VocabularyError
from dreamwright.poetry.prosody import PING, ZE, RhymeTable, is_han


def han_mask(chars: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """``[V]`` booleans: which tokens are Han characters (never punctuation, tags or control characters)."""
    return torch.tensor([is_han(c) for c in chars], dtype=torch.bool, device=device)


def tone_masks(
    chars: Sequence[str], table: RhymeTable, han: torch.Tensor
) -> tuple[list[frozenset[str]], torch.Tensor, torch.Tensor]:
    """Each token's tones, and ``[V]`` masks of the Han tokens with a 平 and with a 仄 reading.

    Tones come from the tables only: a character known only through pypinyin has none, so the masks keep it
    out of every position whose tone a rule fixes (free positions still take it)."""
    tones = [table.table_tones(c) if is_han(c) else frozenset() for c in chars]
    ping = torch.tensor([PING in t for t in tones], device=han.device) & han
    ze = torch.tensor([ZE in t for t in tones], device=han.device) & han
    return tones, ping, ze


def variants(ch: str) -> list[str]:
    """The simplified and traditional forms of ``ch`` other than itself (OpenCC)."""
    from opencc import OpenCC

    out = []
    for conv in ("t2s", "s2t"):
        v = OpenCC(conv).convert(ch)
        if v != ch and len(v) == 1 and v not in out:
            out.append(v)
    return out


def check_vocabulary(text: str, index: Mapping[str, int], what: str) -> None:
    """Raise a one-line :class:`VocabularyError` naming the characters of ``text`` (the user's ``what``) that
    ``index`` lacks, with a simplified/traditional variant it has where there is one."""
    missing = [c for c in dict.fromkeys(text) if c not in index]
    if not missing:
        return
    parts = []
    for c in missing:
        alts = [v for v in variants(c) if v in index]
        parts.append(f"「{c}」 (try 「{alts[0]}」)" if alts else f"「{c}」")
    offered = any("(try" in part for part in parts)
    raise VocabularyError(
        f"{what} characters not in the model's vocabulary: {', '.join(parts)}; use other characters"
        + (" (or the suggested simplified/traditional variant)" if offered else ""),
        param=what.split()[0],
    )
