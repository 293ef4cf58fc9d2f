"""The chat template now lives beside the Generator (:mod:`dreamwright.generation.chat_template`), which the
CLI's ``chat`` shares with the server; this name is kept for code that imported it from here."""

from dreamwright.generation.chat_template import DEFAULT_MESSAGE, ROLES, ChatTemplate

__all__ = ["DEFAULT_MESSAGE", "ROLES", "ChatTemplate"]
