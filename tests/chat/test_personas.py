"""Personas: the active list, unique live names, and the modules linked to a persona."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from assistant_models.database import Database
from assistant_models.exceptions import ConflictError, ValidationError
from assistant_models.models.chat import Persona, PersonaModule, PromptModule

pytestmark = pytest.mark.integration


@pytest.fixture
def tag() -> str:
    return f"pers-{uuid.uuid4().hex[:10]}"


def _persona(name: str, **fields) -> Persona:
    return Persona.objects.create(name=name, template="You are {{name}}.", **fields)


def _module(name: str, **fields) -> PromptModule:
    return PromptModule.objects.create(name=name, type="prompt", **fields)


def _names(rows) -> list[str]:
    return [row.name for row in rows]


def test_active_lists_active_live_personas_by_name(db_session: Session, tag: str) -> None:
    _persona(f"{tag} zed")
    _persona(f"{tag} amy")
    _persona(f"{tag} off", is_active=False)
    _persona(f"{tag} gone").delete()
    assert _names(Persona.objects.filter(name__startswith=tag).active()) == [f"{tag} amy", f"{tag} zed"]


def test_a_second_live_persona_of_the_same_name_is_a_conflict_naming_name(
    db_session: Session, database: Database, tag: str
) -> None:
    _persona(tag)
    with pytest.raises(ConflictError) as caught, database.session():
        _persona(tag)
    assert caught.value.field == "name"
    assert tag not in str(caught.value)
    assert Persona.objects.filter(name=tag).count() == 1


def test_the_name_of_a_soft_deleted_persona_can_be_used_again(db_session: Session, tag: str) -> None:
    old = _persona(tag)
    old.delete()
    new = _persona(tag)
    assert Persona.objects.get(name=tag).id == new.id
    assert Persona.all_objects.filter(name=tag).count() == 2


def test_restoring_a_persona_whose_name_was_taken_meanwhile_is_a_conflict(
    db_session: Session, tag: str
) -> None:
    old = _persona(tag)
    old.delete()
    _persona(tag)
    with pytest.raises(ConflictError) as caught:
        old.restore()
    assert caught.value.field == "name"


def test_modules_are_appended_in_the_order_they_are_added(db_session: Session, tag: str) -> None:
    persona = _persona(tag)
    first, second, third = (_module(f"{tag} {n}") for n in ("c", "a", "b"))
    links = [Persona.objects.add_module(persona, m) for m in (first, second, third)]
    assert [link.position for link in links] == [0, 1, 2]
    assert all(isinstance(link, PersonaModule) and link.persona_id == persona.id for link in links)
    assert _names(Persona.objects.modules_of(persona)) == [f"{tag} c", f"{tag} a", f"{tag} b"]


def test_a_module_added_at_a_position_goes_there_and_ties_come_by_name(db_session: Session, tag: str) -> None:
    persona = _persona(tag)
    late, early, tied = _module(f"{tag} late"), _module(f"{tag} early"), _module(f"{tag} tied")
    Persona.objects.add_module(persona, late, position=5)
    Persona.objects.add_module(persona, early, position=1)
    Persona.objects.add_module(persona, tied, position=5)
    assert _names(Persona.objects.modules_of(persona)) == [f"{tag} early", f"{tag} late", f"{tag} tied"]
    appended = Persona.objects.add_module(persona, _module(f"{tag} next"))
    assert appended.position == 6


def test_adding_a_linked_module_again_moves_it_or_leaves_it_but_never_links_it_twice(
    db_session: Session, tag: str
) -> None:
    persona = _persona(tag)
    a, b = _module(f"{tag} a"), _module(f"{tag} b")
    Persona.objects.add_module(persona, a)
    Persona.objects.add_module(persona, b)
    assert Persona.objects.add_module(persona, a).position == 0  # no position: stays where it is
    assert Persona.objects.add_module(persona, a, position=9).position == 9
    assert _names(Persona.objects.modules_of(persona)) == [f"{tag} b", f"{tag} a"]
    assert PersonaModule.objects.filter(persona_id=persona.id).count() == 2


def test_remove_module_unlinks_it_and_says_whether_it_was_linked(db_session: Session, tag: str) -> None:
    persona = _persona(tag)
    kept, removed = _module(f"{tag} kept"), _module(f"{tag} removed")
    Persona.objects.add_module(persona, kept)
    Persona.objects.add_module(persona, removed)
    assert Persona.objects.remove_module(persona, removed) is True
    assert Persona.objects.remove_module(persona, removed) is False
    assert _names(Persona.objects.modules_of(persona)) == [f"{tag} kept"]
    assert PromptModule.objects.filter(pk=removed.id).exists()  # the module itself stays


def test_modules_of_is_chainable_and_sees_only_that_persona(db_session: Session, tag: str) -> None:
    mine, other = _persona(f"{tag} mine"), _persona(f"{tag} other")
    on, off, theirs = _module(f"{tag} on"), _module(f"{tag} off", is_active=False), _module(f"{tag} x")
    for module in (on, off):
        Persona.objects.add_module(mine, module)
    Persona.objects.add_module(other, theirs)
    assert _names(Persona.objects.modules_of(mine)) == [f"{tag} on", f"{tag} off"]
    assert _names(Persona.objects.modules_of(mine).filter(is_active=True)) == [f"{tag} on"]


@pytest.mark.parametrize("position", [-1, 1_000_001, "first", 1.5])
def test_a_bad_position_is_a_validation_error_naming_position(
    db_session: Session, tag: str, position
) -> None:
    persona, module = _persona(tag), _module(tag)
    with pytest.raises(ValidationError) as caught:
        Persona.objects.add_module(persona, module, position=position)
    assert caught.value.fields == ["position"]
    assert not PersonaModule.objects.filter(persona_id=persona.id).exists()


def test_linking_something_that_is_not_a_saved_persona_or_module_names_the_argument(
    db_session: Session, tag: str
) -> None:
    persona, module = _persona(tag), _module(tag)
    unsaved = Persona(name=f"{tag} unsaved", template="t")
    cases = [
        ((unsaved, module), "persona"),
        ((module, module), "persona"),
        ((persona, persona), "module"),
        ((persona, None), "module"),
    ]
    for args, field in cases:
        with pytest.raises(ValidationError) as caught:
            Persona.objects.add_module(*args)
        assert caught.value.fields == [field]
        with pytest.raises(ValidationError) as caught:
            Persona.objects.remove_module(*args)
        assert caught.value.fields == [field]
    assert not PersonaModule.objects.filter(persona_id=persona.id).exists()


def test_a_deleted_module_leaves_its_personas(db_session: Session, tag: str) -> None:
    persona = _persona(tag)
    module = _module(tag)
    Persona.objects.add_module(persona, module)
    module.delete()
    assert list(Persona.objects.modules_of(persona)) == []


def test_awaited_add_module_links_the_module(adb_session, arun, tag: str) -> None:
    async def scenario() -> tuple[int, list[str]]:
        persona = await Persona.objects.acreate(name=tag, template="t")
        module = await PromptModule.objects.acreate(name=tag, type="prompt")
        link = await Persona.objects.aadd_module(persona, module, position=3)
        names = [m.name async for m in Persona.objects.modules_of(persona)]
        return link.position, names

    assert arun(scenario()) == (3, [tag])
