"""A guided tour of the conversation models: a persona, a chat, tools, a confirmation, history.

Run it with no set-up at all: without DATABASE_URL it starts the embedded
PostgreSQL and migrates it.

    python examples/chat.py

Each run uses fresh names, so it can be run again and again.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from assistant_models import Database, InvalidTransition
from assistant_models.models import (
    ChatSession,
    Confirmation,
    ConversationState,
    Message,
    Persona,
    PromptModule,
    ToolExecution,
    User,
)


def step(title: str) -> None:
    print(f"\n== {title}")


WEATHER_CALL = {
    "id": "call_weather_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Lisbon"})},
}


def main() -> None:
    run = secrets.token_hex(3)
    db = Database()
    db.migrate()

    step("A persona with prompt modules for the stages of a reply")
    with db.session():
        user = User.objects.create_user(
            f"grace.{run}@example.com", f"grace_{run}", "correct horse battery staple"
        )
        persona = Persona.objects.create(
            name=f"Navigator {run}",
            template="You are a calm travel assistant.",
            first_message="Where to?",
        )
        weather = PromptModule.objects.create(
            name=f"weather-{run}",
            type="tool-hint",
            content="Use get_weather for forecasts.",
            trigger_pattern=r"\b(weather|forecast|rain)\b",
        )
        summary = PromptModule.objects.create(
            name=f"summary-{run}",
            type="summary",
            content="Summarise the trip so far.",
            execution_context="post_response",
            stage_priority=50,
        )
        Persona.objects.add_module(persona, weather)
        Persona.objects.add_module(persona, summary)
        names = [m.name for m in Persona.objects.modules_of(persona)]
        print(f"persona {persona.name!r} uses {names}")
        matched = [m.name for m in PromptModule.objects.matching("Will it rain in Lisbon?", persona=persona)]
        print(f"modules triggered by 'Will it rain in Lisbon?': {matched}")

    step("A chat: user, assistant with a tool call, the tool's result, the answer")
    with db.session():
        chat = ChatSession.objects.start(user.id, "Lisbon weekend", persona=persona.id, agent_type="travel")
        Message.objects.post(chat, "system", "You are a calm travel assistant.")
        Message.objects.post(chat, "user", "Will it rain in Lisbon on Saturday?", input_tokens=12)
        asking = Message.objects.post(chat, "assistant", "", tool_calls=[WEATHER_CALL], output_tokens=18)
        run_ = ToolExecution.objects.record(chat, "get_weather", {"city": "Lisbon"}, message=asking)
        ToolExecution.objects.start(run_)
        forecast = {"saturday": "sunny", "high_c": 24}
        ToolExecution.objects.complete(run_, forecast, tokens_used=40)
        Message.objects.post(
            chat,
            "tool",
            json.dumps(forecast),
            tool_call_id="call_weather_1",
            name="get_weather",
            parent=asking,
        )
        Message.objects.post(chat, "assistant", "Sunny, around 24 °C: no umbrella needed.", output_tokens=14)
        again = Message.objects.post(chat, "user", "Great, thanks!", idempotency_key=f"client-{run}-7")
        same = Message.objects.post(chat, "user", "Great, thanks!", idempotency_key=f"client-{run}-7")
        print(
            f"a retried post with the same idempotency key returns the first message: {same.id == again.id}"
        )
        chat = ChatSession.objects.get(pk=chat.id)
        print(
            f"chat counters kept by the database: {chat.message_count} messages, {chat.total_tokens} tokens"
        )

    step("A confirmation before acting, and state the modules keep")
    with db.session():
        ask = Confirmation.objects.request(
            chat, user, "book_hotel", {"hotel": "Alfama Inn"}, ttl=timedelta(minutes=10)
        )
        print(f"pending for the chat: {[c.kind for c in Confirmation.objects.pending_for(chat)]}")
        Confirmation.objects.approve(ask)
        try:
            Confirmation.objects.reject(ask)
        except InvalidTransition as exc:
            print(f"rejecting it after approval -> InvalidTransition: {exc}")
        ConversationState.objects.set_value(chat, "destination", {"city": "Lisbon", "nights": 2})
        ConversationState.objects.set_value(chat, "mood", "relaxed", module=summary)
        print(f"state of the chat: {ConversationState.objects.all_for(chat)}")
        print(f"state of the summary module: {ConversationState.objects.all_for(chat, module=summary)}")

    step("The history, ready to send to a model, within a token budget")
    with db.session():
        full = Message.objects.history(chat)
        print(json.dumps(full, indent=2, ensure_ascii=False))
        trimmed = Message.objects.history(chat, max_tokens=100)
        roles = [m["role"] for m in trimmed]
        print(f"{len(full)} messages in all; within 100 tokens: {len(trimmed)} {roles}")
        print("(system messages stay; a tool call goes with its result; it starts on a user turn)")

    step("Search, summaries, archive")
    with db.session():
        hits = [m.content for m in Message.objects.filter(session_id=chat.id).search("umbrella")]
        print(f"messages about 'umbrella': {hits}")
        for line in ChatSession.objects.summaries(user.id):
            print(f"{line.session.title}: last {line.last_message_role} said {line.last_message_preview!r}")
        ChatSession.objects.archive(chat)
        listed = [c.title for c in ChatSession.objects.for_user(user.id, status="active")]
        print(f"active chats after archiving: {listed}")
        print(f"per-tool statistics: {ToolExecution.objects.filter(session_id=chat.id).stats()}")
    print("\nDone.")


if __name__ == "__main__":
    main()
