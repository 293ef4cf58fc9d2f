"""User-facing errors.

Anything a user can cause (a bad path, a bad option, a broken checkpoint) raises a
:class:`DreamwrightError` whose message is one line saying what is wrong and what to do.
The CLI prints it without a traceback and exits non-zero; the server maps it to a 4xx.

Messages name parameters in the Python API's words, so that each surface can respell them in its own:
a message that starts with its ``param`` (``num_samples must be …``), a suggested setting
(``pass resume='runs/x'``, ``force=True``) and a name in backticks (```out```) become CLI options in the
CLI (``--num-samples``, ``--resume runs/x``, ``--force``, ``--out``; see :mod:`dreamwright._cli_runner`).
"""

from __future__ import annotations


class DreamwrightError(Exception):
    """An error caused by the user's input, with a one-line actionable message."""

    exit_code = 2
    #: which request parameter was wrong, when one was (used by the HTTP server)
    param: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        if param is not None:
            self.param = param


class InvalidArgument(DreamwrightError):
    """A parameter is out of range or of the wrong kind."""


class CorpusError(DreamwrightError):
    """A corpus is missing, empty, too short or not decodable."""


class CheckpointError(DreamwrightError):
    """A run directory is not a usable dreamwright checkpoint."""


class VocabularyError(DreamwrightError):
    """Text contains tokens the model's vocabulary lacks."""


class WrongKindError(CheckpointError):
    """A run holds the other kind of model (an image model given to ``generate``, a language model to ``draw``)."""
