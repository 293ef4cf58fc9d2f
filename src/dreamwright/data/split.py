"""Held-out splits that stay put: an item is held out by a hash of its text, not by its position."""

from __future__ import annotations

import hashlib


def hash_fraction(text: str, seed: int = 0) -> float:
    """A number in [0, 1) fixed by ``text`` and ``seed``: where the item falls for :func:`held_out`."""
    h = hashlib.sha1(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def held_out(text: str, fraction: float, seed: int = 0) -> bool:
    """Whether the item ``text`` belongs to the held-out ``fraction`` (stable as a collection grows)."""
    return hash_fraction(text, seed) < fraction
