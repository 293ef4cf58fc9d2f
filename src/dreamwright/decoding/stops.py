"""Stop strings, watched as text is produced: the one scanner, for any Unicode text."""

from __future__ import annotations

from collections.abc import Sequence

from dreamwright.errors import InvalidArgument


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could still be the start of a stop string."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:k]):
                hold = k
                break
    return hold


class StopWatcher:
    """Accumulates one sample's text and cuts it at the first stop string.

    :meth:`push` returns the text that is safe to show: a tail that might still grow into a stop string is
    held back until it either completes one (and is dropped) or cannot any more. Only the window a new match
    could occupy is searched, so a step costs the same however long the text has grown.
    """

    __slots__ = ("stops", "text", "emitted", "stopped", "_longest")

    def __init__(self, stops: Sequence[str] = ()) -> None:
        if any(not isinstance(s, str) or not s for s in stops):
            raise InvalidArgument("stop strings must be non-empty text", param="stop")
        self.stops = tuple(stops)
        self.text = ""
        self.emitted = 0
        self.stopped = False
        self._longest = max((len(s) for s in self.stops), default=0)

    def push(self, piece: str) -> str:
        """Add ``piece``; return the newly safe text (``stopped`` turns True when a stop string completes)."""
        if self.stopped:
            return ""
        if not self.stops:
            self.text += piece
            self.emitted = len(self.text)
            return piece
        start = max(0, len(self.text) - self._longest + 1)  # a new match must overlap the new piece
        self.text += piece
        hits = [p for p in (self.text.find(s, start) for s in self.stops) if p >= 0]
        if hits:
            self.text = self.text[: min(hits)]
            self.stopped = True
            safe = len(self.text)
        else:
            safe = len(self.text) - held_back(self.text, self.stops)
        return self._emit(safe)

    def flush(self) -> str:
        """The held-back tail, once no more text will come."""
        return self._emit(len(self.text))

    def _emit(self, safe: int) -> str:
        if safe <= self.emitted:
            return ""
        out = self.text[self.emitted : safe]
        self.emitted = safe
        return out
