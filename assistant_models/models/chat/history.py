"""A conversation cut to fit a model's context: the chat-completions messages to send.

Pure functions over plain dicts (``{"role", "content", "tool_calls", "tool_call_id",
"name"}``), so the rules can be tested without a database. They follow LangChain's
``trim_messages(strategy="last", include_system=True, start_on="human")``, whole
messages only, and add what a tool-calling model needs: an assistant message that calls
tools and the tool results answering it are kept or dropped together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "CHARS_PER_TOKEN",
    "TOKENS_PER_MESSAGE",
    "TokenCounter",
    "chat_message",
    "estimate_tokens",
    "fit_history",
]

#: A function giving the tokens one message costs in a model's context.
TokenCounter = Callable[[Mapping[str, Any]], int]

#: The default estimate's characters per token: about right for English with OpenAI's
#: and most other BPE tokenizers; pass a real tokenizer's count where it matters.
CHARS_PER_TOKEN = 4
#: Tokens each message costs besides its text (role and framing), as in OpenAI's accounting.
TOKENS_PER_MESSAGE = 3


def chat_message(
    role: str,
    content: Any,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_call_id: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Return one message in the chat-completions format: the keys it has values for."""
    message: dict[str, Any] = {"role": str(role), "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if tool_call_id is not None:
        message["tool_call_id"] = tool_call_id
    if name is not None:
        message["name"] = name
    return message


def _text(content: Any) -> str:
    """Return the text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return "" if content is None else str(content)


def estimate_tokens(message: Mapping[str, Any]) -> int:
    """Return an estimate of the tokens ``message`` costs: the default ``token_counter``.

    One token per :data:`CHARS_PER_TOKEN` characters (rounded up) of its content, role,
    name, tool call id and tool calls (as JSON text), plus :data:`TOKENS_PER_MESSAGE`.
    """
    chars = len(_text(message.get("content"))) + len(str(message.get("role", "")))
    chars += len(message.get("name") or "") + len(message.get("tool_call_id") or "")
    if message.get("tool_calls"):
        chars += len(json.dumps(message["tool_calls"], separators=(",", ":")))
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE


def _turns(messages: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Return the indexes of ``messages`` grouped into whole turns, complete ones only.

    An assistant message that calls tools makes one turn with the tool results that
    follow it and answer its calls; such a turn missing a result is left out, and so is
    a tool result that no assistant message before it called.
    """
    turns: list[list[int]] = []
    open_calls: set[Any] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call = message.get("tool_call_id")
            if turns and call in open_calls:
                turns[-1].append(i)
                open_calls.discard(call)
            continue  # a result of no call seen before it: left out
        if open_calls:  # the previous turn's calls were not all answered
            turns.pop()
        calls = message.get("tool_calls") if role == "assistant" else None
        open_calls = {c.get("id") for c in calls if isinstance(c, Mapping)} if calls else set()
        turns.append([i])
    if open_calls:
        turns.pop()
    return turns


def fit_history(
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None = None,
    token_counter: TokenCounter | None = None,
    include_system: bool = True,
) -> list[dict[str, Any]]:
    """Return the latest whole turns of ``messages`` that fit ``max_tokens``, oldest first.

    System messages are kept whatever the budget (and their tokens counted first) when
    ``include_system`` is true, and left out otherwise. The other messages are taken in
    whole turns from the newest back, while they fit what the system messages leave; the
    first turn that does not fit ends the history. Tool results are never kept without
    the assistant message that called them, nor that message without its results. The
    history then starts on a user message: turns before the first kept user message go.

    Args:
        messages: The conversation, oldest first, in the chat-completions format.
        max_tokens: The budget; ``None`` keeps every whole turn.
        token_counter: Tokens of one message; :func:`estimate_tokens` by default.
        include_system: Keep the system messages (``False`` leaves them out).
    """
    count = token_counter or estimate_tokens
    system = [i for i, m in enumerate(messages) if m.get("role") == "system"] if include_system else []
    others = [i for i, m in enumerate(messages) if m.get("role") != "system"]
    budget = None if max_tokens is None else max_tokens - sum(count(messages[i]) for i in system)
    kept: list[list[int]] = []
    for turn in reversed(_turns([messages[i] for i in others])):
        if budget is not None:
            cost = sum(count(messages[others[j]]) for j in turn)
            if cost > budget:
                break
            budget -= cost
        kept.append([others[j] for j in turn])
    kept.reverse()
    start = next((n for n, turn in enumerate(kept) if messages[turn[0]].get("role") == "user"), len(kept))
    chosen = sorted(system + [i for turn in kept[start:] for i in turn])
    return [dict(messages[i]) for i in chosen]
