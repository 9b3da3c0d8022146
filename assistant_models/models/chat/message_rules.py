"""What makes a message well formed, beyond each field's own type.

Checked by :meth:`MessageManager.post` and :meth:`MessageManager.import_history`
before any SQL, each problem naming its field: a role and a content type from their
vocabularies, a tool result naming the call it answers, tool calls in the
chat-completions shape only on assistant messages. The shape of ``tool_calls`` is also
a field validator of the model, so every write path checks it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = ["message_problems", "tool_calls_problem"]

_CALL_KEYS = frozenset({"id", "type", "function"})
_FUNCTION_KEYS = frozenset({"name", "arguments"})


def _call_problem(call: Any) -> str | None:
    """Return what is wrong with one tool call, or ``None``."""
    if not isinstance(call, Mapping) or set(call) != _CALL_KEYS:
        return 'must be {"id": ..., "type": "function", "function": {"name": ..., "arguments": ...}}'
    if not isinstance(call["id"], str) or not call["id"]:
        return ".id must be a non-empty string"
    if call["type"] != "function":
        return '.type must be "function"'
    function = call["function"]
    if not isinstance(function, Mapping) or set(function) != _FUNCTION_KEYS:
        return '.function must be {"name": ..., "arguments": ...}'
    if not isinstance(function["name"], str) or not function["name"]:
        return ".function.name must be a non-empty string"
    if not isinstance(function["arguments"], str):
        return ".function.arguments must be a string (the arguments as JSON text)"
    return None


def tool_calls_problem(calls: Any) -> str | None:
    """Return what keeps ``calls`` from being chat-completions tool calls, or ``None``.

    The shape is a non-empty list of ``{"id": str, "type": "function", "function":
    {"name": str, "arguments": str}}`` with distinct ids, and nothing else.
    """
    if not isinstance(calls, list) or not calls:
        return "must be a non-empty list of tool calls (or None)"
    for index, call in enumerate(calls):
        problem = _call_problem(call)
        if problem is not None:
            return f"[{index}]{problem}" if problem.startswith(".") else f"[{index}] {problem}"
    ids = [call["id"] for call in calls]
    if len(set(ids)) != len(ids):
        return "must give each call its own id"
    return None


def _choice(values: Mapping[str, Any], name: str, vocabulary: type[enum.Enum]) -> str | None:
    """Return what is wrong with ``values[name]`` as a member of ``vocabulary``, or ``None``."""
    try:
        vocabulary(values[name])
    except (ValueError, TypeError):
        return "must be one of " + ", ".join(str(m.value) for m in vocabulary)
    return None


def message_problems(
    values: Mapping[str, Any], roles: type[enum.Enum], content_types: type[enum.Enum], prefix: str = ""
) -> list[dict[str, str]]:
    """Return an error per problem of a message's ``values``, fields named after ``prefix``.

    Args:
        values: The message's fields.
        roles: The role vocabulary (its ``tool`` and ``assistant`` members are read by value).
        content_types: The content type vocabulary.
        prefix: Put before each field name (``"rows[3]."`` for the fourth of many).
    """
    errors: list[dict[str, str]] = []

    def add(field: str, message: str | None) -> None:
        if message is not None:
            errors.append({"field": prefix + field, "message": message})

    if values.get("role") is None:
        add("role", "is required")
        return errors
    add("role", _choice(values, "role", roles))
    if values.get("content_type") is not None:
        add("content_type", _choice(values, "content_type", content_types))
    if errors:
        return errors
    role = roles(values["role"]).value
    if role == "tool" and not values.get("tool_call_id"):
        add("tool_call_id", "is required on a tool message: the id of the call it answers")
    if role != "tool" and values.get("tool_call_id") is not None:
        add("tool_call_id", "belongs on tool messages only")
    if values.get("tool_calls") is not None:
        add("tool_calls", "belongs on assistant messages only" if role != "assistant" else None)
        add("tool_calls", tool_calls_problem(values["tool_calls"]))
    return errors
