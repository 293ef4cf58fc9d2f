"""How a conversation becomes a prompt for a model that was never trained to chat.

The default template writes one ``role: content`` line per message and ends with the assistant's turn::

    system: You are terse.
    user: Who goes there?
    assistant: ␣

(``␣`` is a space) and the model's continuation stops at the next role line (``\\nuser:``,
``\\nassistant:``, ``\\nsystem:``), so it answers one turn. A run may carry its own template under
``"chat_template"`` in its ``config.json``, e.g. for a model trained on plays::

    "chat_template": {"message": "{role}: {content}\\n", "roles": {"user": "ROMEO", "assistant": "JULIET"}}

``message`` must contain ``{role}`` and ``{content}`` once each; ``roles`` maps system, user and assistant to
the names written (any left out keep their own). ``developer`` messages count as ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dreamwright.errors import InvalidArgument

ROLES = ("system", "user", "assistant")
DEFAULT_MESSAGE = "{role}: {content}\n"


@dataclass(frozen=True)
class ChatTemplate:
    """A message format and role names; renders messages and says where the reply ends."""

    message: str = DEFAULT_MESSAGE
    roles: Mapping[str, str] = field(default_factory=lambda: {r: r for r in ROLES})

    def __post_init__(self) -> None:
        for key in ("{role}", "{content}"):
            if self.message.count(key) != 1:
                raise InvalidArgument(
                    f"a chat template's message must contain {key} exactly once", param="chat_template"
                )
        if self.message.index("{role}") > self.message.index("{content}"):
            raise InvalidArgument("a chat template's message must put {role} before {content}", param="chat_template")
        object.__setattr__(self, "roles", {r: str(self.roles.get(r, r)) for r in ROLES})

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ChatTemplate:
        """The template a run's ``config.json`` names under ``chat_template`` (the default when none)."""
        spec = (config or {}).get("chat_template")
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise InvalidArgument("chat_template in config.json must be an object", param="chat_template")
        return cls(message=str(spec.get("message", DEFAULT_MESSAGE)), roles=dict(spec.get("roles") or {}))

    def _head(self, role: str) -> str:
        return self.message[: self.message.index("{content}")].replace("{role}", self.roles[role])

    @property
    def _tail(self) -> str:
        return self.message[self.message.index("{content}") + len("{content}") :]

    def render(self, messages: Sequence[tuple[str, str]]) -> str:
        """The prompt for ``(role, content)`` messages, ending where the assistant's reply begins."""
        return "".join(self._head(r) + c + self._tail for r, c in messages) + self._head("assistant")

    @property
    def stops(self) -> list[str]:
        """Where a reply ends: the start of the next role line (the message's tail, then a role head)."""
        out = []
        for role in ROLES:
            stop = (self._tail + self._head(role)).rstrip(" ")
            if stop and stop not in out:
                out.append(stop)
        return out
