"""Generative image techniques that run a pretrained CNN backwards: neural style transfer and DeepDream.

Heavy imports (torch) happen on first use, so ``import dreamwright.image`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from dreamwright.image.backbones import BACKBONES, FeatureNet, load_backbone, select_backbone
    from dreamwright.image.dream import DreamOptions, DreamResult, deep_dream, run_deep_dream
    from dreamwright.image.io import load_image, save_image, save_png
    from dreamwright.image.style import StyleOptions, StyleResult, run_style_transfer, style_transfer

__all__ = [
    "BACKBONES",
    "DreamOptions",
    "DreamResult",
    "FeatureNet",
    "StyleOptions",
    "StyleResult",
    "deep_dream",
    "load_backbone",
    "load_image",
    "run_deep_dream",
    "run_style_transfer",
    "save_image",
    "save_png",
    "select_backbone",
    "style_transfer",
]

_WHERE = {
    "BACKBONES": "backbones",
    "FeatureNet": "backbones",
    "load_backbone": "backbones",
    "select_backbone": "backbones",
    "DreamOptions": "dream",
    "DreamResult": "dream",
    "deep_dream": "dream",
    "run_deep_dream": "dream",
    "load_image": "io",
    "save_image": "io",
    "save_png": "io",
    "StyleOptions": "style",
    "StyleResult": "style",
    "run_style_transfer": "style",
    "style_transfer": "style",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        module = importlib.import_module(f"dreamwright.image.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'dreamwright.image' has no attribute {name!r}")
