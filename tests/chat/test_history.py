"""Cutting a conversation to a token budget: ``fit_history``, the rules behind ``Message.objects.history``.

The first tests are LangChain's own tests of ``trim_messages(strategy="last",
include_system=True, start_on="human")`` (langchain_core, tests/unit_tests/messages/
test_utils.py), ported to chat-completions dicts: same messages, same token counter,
same expected results. Partial messages (``allow_partial``) are not ported: a history
keeps messages whole. The rest are the tool-calling rules LangChain leaves to
``end_on`` and that a model needs: calls and results kept or dropped together.
"""

from __future__ import annotations

import copy
import json

import pytest

from assistant_models.models.chat.history import (
    CHARS_PER_TOKEN,
    TOKENS_PER_MESSAGE,
    estimate_tokens,
    fit_history,
)

# ------------------------------------------------------------------ LangChain's tests, ported

#: LangChain's _MESSAGES_TO_TRIM; ids become names, so each message can be told apart.
MESSAGES_TO_TRIM = [
    {"role": "system", "content": "This is a 4 token text."},
    {"role": "user", "content": "This is a 4 token text.", "name": "first"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "This is the FIRST 4 token block."},
            {"type": "text", "text": "This is the SECOND 4 token block."},
        ],
        "name": "second",
    },
    {"role": "user", "content": "This is a 4 token text.", "name": "third"},
    {"role": "assistant", "content": "This is a 4 token text.", "name": "fourth"},
]


def dummy_token_counter(message: dict) -> int:
    """LangChain's counter, for one message: 3 tokens before and after, 4 per content block."""
    prefix, content, suffix = 3, 4, 3
    blocks = len(message["content"]) if isinstance(message["content"], list) else 1
    return prefix + blocks * content + suffix


@pytest.fixture(autouse=True)
def untouched():
    """Every test leaves the shared messages as they were (LangChain checks the same)."""
    kept = copy.deepcopy(MESSAGES_TO_TRIM)
    yield
    assert kept == MESSAGES_TO_TRIM


def test_trim_messages_last_30_include_system() -> None:
    expected = [MESSAGES_TO_TRIM[0], MESSAGES_TO_TRIM[3], MESSAGES_TO_TRIM[4]]
    actual = fit_history(MESSAGES_TO_TRIM, max_tokens=30, token_counter=dummy_token_counter)
    assert actual == expected


def test_trim_messages_last_40_include_system_start_on_human() -> None:
    # LangChain's test_trim_messages_last_40_include_system_allow_partial_start_on_human,
    # which asks for 30 tokens: whole messages give the same answer
    expected = [MESSAGES_TO_TRIM[0], MESSAGES_TO_TRIM[3], MESSAGES_TO_TRIM[4]]
    actual = fit_history(MESSAGES_TO_TRIM, max_tokens=30, token_counter=dummy_token_counter)
    assert actual == expected


def test_trim_messages_include_system_strategy_last_empty_messages() -> None:
    assert fit_history([], max_tokens=10, token_counter=dummy_token_counter) == []


def test_trim_messages_start_on_human() -> None:
    # LangChain's test_trim_messages_start_on_with_allow_partial
    messages = [
        {"role": "user", "content": "First human message"},
        {"role": "assistant", "content": "AI response"},
        {"role": "user", "content": "Second human message"},
    ]
    actual = fit_history(messages, max_tokens=20, token_counter=dummy_token_counter)
    assert actual == [{"role": "user", "content": "Second human message"}]


def test_trim_messages_exact_token_boundary() -> None:
    messages = [
        {"role": "system", "content": "10 tokens exactly."},
        {"role": "user", "content": "Another 10 tokens."},
    ]
    assert fit_history(messages, max_tokens=10, token_counter=dummy_token_counter) == messages[:1]
    assert fit_history(messages, max_tokens=20, token_counter=dummy_token_counter) == messages


def test_trim_messages_token_counter_approximate_with_options() -> None:
    # LangChain's test_trim_messages_token_counter_shortcut_with_options: the default estimate
    messages = [
        {"role": "system", "content": "System instructions"},
        {"role": "user", "content": "First human message"},
        {"role": "assistant", "content": "First AI response"},
        {"role": "user", "content": "Second human message"},
        {"role": "assistant", "content": "Second AI response"},
    ]
    result = fit_history(messages, max_tokens=100)
    assert len(result) >= 2
    assert result[0]["role"] == "system"
    assert any(m["role"] == "user" for m in result[1:])


# ------------------------------------------------------------------ tool calls, system messages, the estimate


def _call(call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


TOOL_TURN = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "", "tool_calls": [_call("a"), _call("b")]},
    {"role": "tool", "content": "ra", "tool_call_id": "a"},
    {"role": "tool", "content": "rb", "tool_call_id": "b"},
    {"role": "assistant", "content": "done"},
]


def ten(message: dict) -> int:
    return 10


def test_tool_results_are_kept_with_the_call_or_not_at_all() -> None:
    assert fit_history(TOOL_TURN, max_tokens=60, token_counter=ten) == TOOL_TURN
    # room for one result and the answer: the results go, and the turn no longer starts on a user
    assert fit_history(TOOL_TURN, max_tokens=40, token_counter=ten) == TOOL_TURN[:1]


def test_a_tool_result_without_its_call_is_left_out() -> None:
    orphan = [TOOL_TURN[1], {"role": "tool", "content": "late", "tool_call_id": "zz"}, TOOL_TURN[5]]
    assert fit_history(orphan) == [TOOL_TURN[1], TOOL_TURN[5]]


def test_a_call_missing_a_result_is_left_out_with_the_results_it_has() -> None:
    unanswered = [*TOOL_TURN[:4], {"role": "user", "content": "q2"}]
    assert fit_history(unanswered) == [TOOL_TURN[0], TOOL_TURN[1], {"role": "user", "content": "q2"}]
    assert fit_history(TOOL_TURN[:4]) == TOOL_TURN[:2]  # the call still waits for "b"


def test_every_system_message_is_kept_and_counted_first() -> None:
    messages = [
        {"role": "system", "content": "one"},
        {"role": "user", "content": "q1"},
        {"role": "system", "content": "two"},
        {"role": "user", "content": "q2"},
    ]
    assert fit_history(messages, max_tokens=30, token_counter=ten) == [messages[0], messages[2], messages[3]]
    assert fit_history(messages, max_tokens=5, token_counter=ten) == [messages[0], messages[2]]
    assert fit_history(messages, include_system=False) == [messages[1], messages[3]]


def test_the_default_estimate_is_four_characters_a_token_plus_three_a_message() -> None:
    assert (CHARS_PER_TOKEN, TOKENS_PER_MESSAGE) == (4, 3)
    assert estimate_tokens({"role": "user", "content": "12345678"}) == 3 + 3  # 12 characters, role included
    calls = [_call("a")]
    expected = -(-(len("assistant") + len(json.dumps(calls, separators=(",", ":")))) // 4) + 3
    assert estimate_tokens({"role": "assistant", "content": "", "tool_calls": calls}) == expected
    parts = {"role": "user", "content": [{"type": "text", "text": "abcd"}, {"type": "image_url"}]}
    assert estimate_tokens(parts) == 2 + 3
