"""The attention picture of a seq2seq reply: which input characters each reply character looked at.

:func:`reply_attention` reads the weights off the model (:meth:`Seq2Seq.attention
<dreamwright.models.seq2seq.Seq2Seq.attention>`); :func:`plot_attention` draws any such matrix with matplotlib
(input along the x axis, reply down the y axis, its last row the step that ended the reply) and saves it as a
PNG. ``dreamwright chat --attention`` uses both, and so can any command that writes a reply to an input
(对对子's couplets).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dreamwright.errors import InvalidArgument

if TYPE_CHECKING:
    from dreamwright.generation.generator import Generator

#: fonts that draw Chinese, Japanese and Korean, tried in order (the first one installed is used)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans SC",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN")
#: how the characters that print as nothing are labelled on the axes
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\x1e": "‖", "\x02": "▶", "\x03": "■", "\x00": "·"}
END = "(end)"


@dataclass(frozen=True)
class Attention:
    """The attention of one reply: labels of the input tokens (x) and of the reply tokens (y, then
    :data:`END`), and the weights ``[len(reply), len(source)]`` as nested lists."""

    source: list[str]
    reply: list[str]
    weights: list[list[float]]


def reply_attention(generator: Generator, prompt_ids: Sequence[int], reply: str | Sequence[int]) -> Attention:
    """The attention weights of ``generator``'s seq2seq model while it wrote ``reply`` (text, or its token ids)
    after ``prompt_ids`` (the source and ``GO``, as :meth:`Generator.encode_chat` makes them). Anything with the
    ``model`` and ``tokenizer`` of a Generator will do (对对子's ``CoupletWriter``)."""
    model = generator.model
    if not getattr(model, "conditional", False) or not hasattr(model, "attention"):
        raise InvalidArgument("only a seq2seq model attends to an input; this one continues a text",
                              param="attention")
    tokenizer = generator.tokenizer
    source = list(prompt_ids)
    if source and source[-1] == model.go_id:
        source = source[:-1]
    reply_ids = tokenizer.encode(reply, unknown="skip") if isinstance(reply, str) else list(reply)
    weights = model.attention(source, reply_ids)
    return Attention([tokenizer.token_text(i) for i in source],
                     [tokenizer.token_text(i) for i in reply_ids] + [END], weights.tolist())


def _label(token: str) -> str:
    return "".join(VISIBLE.get(ch, ch) for ch in token) or "∅"


#: how the files of those fonts are named (to find one installed after matplotlib cached its font list)
CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback", "uming")


def _cjk_family() -> list[str]:
    """The installed CJK font's family first, then matplotlib's default; no warning when there is none."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = [name for name in CJK_FONTS if name in {font.name for font in manager.ttflist}]
    if not found:  # matplotlib's cached list predates the font: look for its file
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name.lower().replace("-", "") for key in CJK_FILES):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = [name for name in CJK_FONTS if name in {font.name for font in manager.ttflist}]
    return found[:1] + ["DejaVu Sans"]


def plot_attention(source_text: str | Sequence[str], reply_text: str | Sequence[str], weights: Any,
                   path: str | os.PathLike[str]) -> Path:
    """Draw the attention matrix ``weights`` (rows: the reply's tokens, then the end of the reply when there
    is one row more than ``reply_text`` has tokens; columns: the input's) as a heat map with a colour bar, and
    save it as a PNG at ``path`` (written atomically). ``source_text`` and ``reply_text`` are strings (one
    label per character) or lists of token labels. Returns the path."""
    import warnings

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights, dtype=float)
    xs, ys = [_label(t) for t in source_text], [_label(t) for t in reply_text]
    if matrix.ndim != 2 or matrix.shape[1] != len(xs) or matrix.shape[0] not in (len(ys), len(ys) + 1):
        raise InvalidArgument(f"the attention matrix is {'×'.join(map(str, matrix.shape))}, but the input has "
                              f"{len(xs)} tokens and the reply {len(ys)} (one row per reply token, and one for "
                              "its end)", param="weights")
    if matrix.shape[0] == len(ys) + 1:
        ys.append(END)
    out = Path(path)
    width = min(max(2.5 + 0.28 * len(xs), 4.0), 40.0)
    height = min(max(1.8 + 0.28 * len(ys), 3.0), 40.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph no installed font has is drawn as a box, silently
        import matplotlib

        with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": _cjk_family()}):
            fig = Figure(figsize=(width, height), dpi=110)
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(matrix.max()), 1e-9),
                              interpolation="nearest")
            ax.set_xticks(range(len(xs)), xs, fontsize=9)
            ax.set_yticks(range(len(ys)), ys, fontsize=9)
            ax.xaxis.tick_top()
            ax.set_xlabel("input")
            ax.xaxis.set_label_position("top")
            ax.set_ylabel("reply")
            fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="attention")
            fig.tight_layout()
            tmp = out.with_name(out.name + ".tmp")
            fig.savefig(tmp, format="png")
    os.replace(tmp, out)
    return out
