"""Model registry. Each model family is one readable file; ``--model NAME`` picks one."""

from dreamwright.models import (
    gpt,  # noqa: F401  (registers gpt)
    rnn,  # noqa: F401  (registers simplernn, lstm, gru)
)
from dreamwright.models.base import MODELS, LanguageModel, build_model, register_model

__all__ = ["MODELS", "LanguageModel", "build_model", "register_model"]
