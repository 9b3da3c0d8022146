"""Checks of what the memory manager is given, each naming the argument at fault, before any SQL."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from assistant_models.vector import vector_problem

__all__ = [
    "OWNER",
    "Problems",
    "check_count",
    "check_embedding",
    "check_fraction",
    "check_half_life",
    "check_memory_types",
    "check_weights",
]

#: The model the errors are about.
OWNER = "ConversationMemory"
#: What a check appends to: one ``{"field", "message"}`` per problem.
Problems = list[dict[str, str]]


def _problem(problems: Problems, field: str, message: str) -> None:
    problems.append({"field": field, "message": message})


def check_embedding(value: Any, dim: int, field: str, problems: Problems) -> None:
    """Note what keeps ``value`` from being a vector of ``dim`` dimensions."""
    problem = vector_problem(value, dim)
    if problem is not None:
        _problem(problems, field, problem)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_fraction(value: Any, field: str, problems: Problems, low: float = 0.0) -> None:
    """Note unless ``value`` is a finite number from ``low`` to 1."""
    if not _is_real(value) or not low <= value <= 1:
        _problem(problems, field, f"must be a number from {low:g} to 1")


def check_count(value: Any, field: str, problems: Problems, least: int = 1) -> None:
    """Note unless ``value`` is an integer of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        _problem(problems, field, f"must be an integer of at least {least}")


def check_half_life(value: Any, problems: Problems) -> None:
    """Note unless ``value`` is a positive timedelta."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        _problem(problems, "half_life", "must be a positive timedelta")


def check_weights(value: Any, problems: Problems) -> tuple[float, float, float]:
    """Return ``value`` as three weights (relevance, importance, recency), noting what is wrong.

    Each must be a finite number of at least 0, and one at least must be positive.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        _problem(problems, "weights", "must be three numbers: relevance, importance, recency")
        return (1.0, 1.0, 1.0)
    items = list(value)
    if len(items) != 3 or not all(_is_real(w) and w >= 0 for w in items):
        _problem(problems, "weights", "must be three finite numbers of at least 0")
        return (1.0, 1.0, 1.0)
    if sum(items) <= 0:
        _problem(problems, "weights", "cannot all be 0")
        return (1.0, 1.0, 1.0)
    return (float(items[0]), float(items[1]), float(items[2]))


def check_memory_types(
    value: Any, kinds: type[Any], problems: Problems, field: str = "memory_types"
) -> list[Any] | None:
    """Return ``value`` as a list of ``kinds`` members (``None`` for any), noting unknown ones."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    found, known = [], ", ".join(k.value for k in kinds)
    for item in value:
        try:
            found.append(kinds(item))
        except (ValueError, TypeError):
            _problem(problems, field, f"must be only {known}, not {item!r}")
            return None
    if not found:
        _problem(problems, field, "cannot be empty (give None for every type)")
    return found
