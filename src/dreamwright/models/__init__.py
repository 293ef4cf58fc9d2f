"""Model registry. Each model family is one readable file; ``--model NAME`` picks one.

Language models (:class:`LanguageModel`: rnn.py, gpt.py, wavenet.py (dilated causal convolutions, for characters or
sound), and seq2seq.py, which reads an input before it writes) and image models (:class:`ImageModel`: dcgan.py,
vae.py) share the registry; :func:`model_names` lists either kind.
"""

from dreamwright.models import (
    dcgan,  # noqa: F401  (registers dcgan)
    gpt,  # noqa: F401  (registers gpt)
    rnn,  # noqa: F401  (registers simplernn, lstm, gru)
    seq2seq,  # noqa: F401  (registers seq2seq)
    vae,  # noqa: F401  (registers vae)
    wavenet,  # noqa: F401  (registers wavenet)
)
from dreamwright.models.base import MODELS, LanguageModel, build_model, model_names, register_model
from dreamwright.models.image import ImageModel

__all__ = ["MODELS", "ImageModel", "LanguageModel", "build_model", "model_names", "register_model"]
