"""Prompt modules: the staged pipeline's order, trigger patterns checked on write and matched in Python."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models.exceptions import ValidationError
from assistant_models.models.chat import ExecutionContext, Persona, PromptModule

pytestmark = pytest.mark.integration


@pytest.fixture
def tag() -> str:
    return f"mod-{uuid.uuid4().hex[:10]}"


def _module(name: str, **fields) -> PromptModule:
    return PromptModule.objects.create(name=name, type="prompt", **fields)


def _names(rows) -> list[str]:
    return [row.name for row in rows]


def _mine(tag: str):
    return PromptModule.objects.filter(name__startswith=tag)


def test_for_stage_lists_active_modules_of_that_context_by_priority_then_name(
    db_session: Session, tag: str
) -> None:
    _module(f"{tag} b", execution_context="immediate", stage_priority=10)
    _module(f"{tag} a", execution_context="immediate", stage_priority=10)
    _module(f"{tag} first", execution_context=ExecutionContext.IMMEDIATE, stage_priority=1)
    _module(f"{tag} off", execution_context="immediate", stage_priority=0, is_active=False)
    _module(f"{tag} later", execution_context="post_response", stage_priority=0)
    assert _names(_mine(tag).for_stage("immediate")) == [f"{tag} first", f"{tag} a", f"{tag} b"]
    assert _names(_mine(tag).for_stage(ExecutionContext.POST_RESPONSE)) == [f"{tag} later"]
    assert _names(_mine(tag).for_stage("on_demand")) == []


@pytest.mark.parametrize("context", ["IMMEDIATE", "soon", None, 3])
def test_for_stage_of_an_unknown_context_names_execution_context(db_session: Session, context) -> None:
    with pytest.raises(ValidationError) as caught:
        PromptModule.objects.for_stage(context)
    assert caught.value.fields == ["execution_context"]


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}", "(?P<x>a)(?P<x>b)", "\\"])
def test_an_invalid_trigger_pattern_is_refused_on_every_write_path(
    db_session: Session, tag: str, pattern: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _module(tag, trigger_pattern=pattern)
    assert caught.value.fields == ["trigger_pattern"]
    module = _module(tag, trigger_pattern="ok")
    with pytest.raises(ValidationError) as caught:
        PromptModule.objects.filter(pk=module.id).update(trigger_pattern=pattern)
    assert caught.value.fields == ["trigger_pattern"]
    module.trigger_pattern = pattern
    with pytest.raises(ValidationError) as caught:
        module.save()
    assert caught.value.fields == ["trigger_pattern"]
    stored = PromptModule.objects.filter(pk=module.id).values_list("trigger_pattern", flat=True)
    db_session.expire_all()
    assert list(stored) == ["ok"]


def test_matching_returns_active_modules_whose_pattern_is_found_in_the_text(
    db_session: Session, tag: str
) -> None:
    _module(f"{tag} weather", trigger_pattern=r"\b(weather|forecast)\b", stage_priority=5)
    _module(f"{tag} greet", trigger_pattern=r"(?i)^hello", stage_priority=1)
    _module(f"{tag} named", trigger_pattern=r"(?P<city>Paris|Rome)")  # Python syntax PostgreSQL lacks
    _module(f"{tag} off", trigger_pattern="weather", is_active=False)
    _module(f"{tag} always")  # no pattern: never triggered
    assert _names(_mine(tag).matching("HELLO, what is the weather in Rome?")) == [
        f"{tag} greet",
        f"{tag} weather",
        f"{tag} named",
    ]
    assert _names(_mine(tag).matching("say hello")) == []
    assert _mine(tag).matching("") == []


def test_matching_keeps_the_order_of_the_queryset_it_is_called_on(db_session: Session, tag: str) -> None:
    _module(f"{tag} b", trigger_pattern="x", stage_priority=1, execution_context="post_response")
    _module(f"{tag} a", trigger_pattern="x", stage_priority=2)
    assert _names(_mine(tag).matching("x")) == [f"{tag} b", f"{tag} a"]
    assert _names(_mine(tag).order_by("name").matching("x")) == [f"{tag} a", f"{tag} b"]
    assert _names(_mine(tag).for_stage("post_response").matching("x")) == [f"{tag} b"]


def test_matching_with_a_persona_looks_at_its_modules_only_in_its_order(
    db_session: Session, tag: str
) -> None:
    persona = Persona.objects.create(name=tag, template="t")
    second, first = _module(f"{tag} 2", trigger_pattern="go"), _module(f"{tag} 1", trigger_pattern="go")
    _module(f"{tag} not linked", trigger_pattern="go")
    Persona.objects.add_module(persona, second, position=2)
    Persona.objects.add_module(persona, first, position=1)
    assert _names(PromptModule.objects.matching("go", persona=persona)) == [f"{tag} 1", f"{tag} 2"]


def test_a_stored_pattern_python_refuses_is_skipped_with_a_warning(
    db_session: Session, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = _module(f"{tag} good", trigger_pattern="hi")
    bad = _module(f"{tag} bad", trigger_pattern="hi")
    # another client's write: PostgreSQL takes the text, Python's re refuses it
    broken = f"hi(?P<{tag.replace('-', '_')}>"
    db_session.execute(
        text("UPDATE modules SET trigger_pattern = :p WHERE id = :id"), {"p": broken, "id": bad.id}
    )
    db_session.expire_all()
    with caplog.at_level(logging.WARNING, logger="assistant_models.models.chat.personas"):
        assert _names(_mine(tag).matching("hi there")) == [good.name]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert str(bad.id) in warned[0].getMessage()


def test_matching_text_that_is_not_a_string_names_text(db_session: Session) -> None:
    for value in (None, b"hello", 42):
        with pytest.raises(ValidationError) as caught:
            PromptModule.objects.matching(value)
        assert caught.value.fields == ["text"]


def test_awaited_matching_finds_the_triggered_module(adb_session, arun, tag: str) -> None:
    async def scenario() -> list[str]:
        await PromptModule.objects.acreate(name=f"{tag} hit", type="prompt", trigger_pattern="ping")
        await PromptModule.objects.acreate(name=f"{tag} miss", type="prompt", trigger_pattern="pong")
        return _names(await _mine(tag).amatching("ping?"))

    assert arun(scenario()) == [f"{tag} hit"]
