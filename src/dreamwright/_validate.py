"""Small checks shared by the CLI, the Python API and the server."""

from __future__ import annotations

import math

from dreamwright.errors import InvalidArgument


def positive_int(name: str, value: int | None, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if value is None or isinstance(value, bool) or int(value) != value or value < 1:
        raise InvalidArgument(f"{name} must be a positive integer, got {value!r}", param=name)
    return int(value)


def non_negative_float(name: str, value: float) -> float:
    value = float(value)
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise InvalidArgument(f"{name} must be a finite number >= 0, got {value!r}", param=name)
    return value


def fraction(name: str, value: float, *, low_open: bool = True, high_closed: bool = True) -> float:
    value = float(value)
    ok = (value > 0 if low_open else value >= 0) and (value <= 1 if high_closed else value < 1)
    if math.isnan(value) or not ok:
        lo = "(0" if low_open else "[0"
        hi = "1]" if high_closed else "1)"
        raise InvalidArgument(f"{name} must be in {lo}, {hi}, got {value!r}", param=name)
    return value
