"""The four control characters that turn an input → reply pair into one token sequence.

A pair is stored, trained and decoded as ``source GO reply EOS``: the encoder of a
:mod:`~dreamwright.models.seq2seq` model reads everything before ``GO``, its decoder reads ``GO reply`` and
learns to write ``reply EOS``. Earlier turns of a conversation are joined into the source with ``TURN``;
``PAD`` fills rows of a batch to one length (sources on the left, replies on the right). They are ASCII
control characters, so they never occur in real text (text is cleaned of them when read).

Every surface that decodes a reply (the CLI, the Python API, the server, 对对子) feeds the model
``source ids + [GO]`` and stops at ``EOS``, which is what makes them agree.
"""

from __future__ import annotations

PAD = "\x00"
GO = "\x02"
EOS = "\x03"
TURN = "\x1e"
SPECIALS = PAD + GO + EOS + TURN
_STRIP = str.maketrans("", "", SPECIALS)


def clean(text: str) -> str:
    """``text`` without the control characters above (a real text cannot contain them)."""
    return text.translate(_STRIP)
