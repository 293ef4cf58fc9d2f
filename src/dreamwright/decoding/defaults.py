"""Decoding defaults shared by the CLI, the Python API, the server's request schemas and the web page.

One module, so the same seed gives the same text from every surface when nothing else is set.
"""

#: sampling temperature when a request names none: at 1.0 a small char model writes many non-words; 0.8 keeps
#: the books' flavour (Chollet samples at 0.2–1.2) while staying readable
DEFAULT_TEMPERATURE = 0.8
#: tokens written per sample by the CLI and the Python API (the server keeps OpenAI's 16, ``--default-max-tokens``)
DEFAULT_MAX_NEW_TOKENS = 400
#: ``dreamwright chat``'s temperature (the same as everywhere else, named on its own in case that changes)
CHAT_TEMPERATURE = DEFAULT_TEMPERATURE
#: the longest reply of ``dreamwright chat`` (a seq2seq reply usually ends much sooner, at EOS)
CHAT_MAX_TOKENS = 300
