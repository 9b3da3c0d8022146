"""Personas and the prompt modules they use."""

from __future__ import annotations

import enum
import logging
import re
import uuid
from functools import cache, lru_cache
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel, validate_fields
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.persistence import translating
from assistant_models.core.types import str_enum
from assistant_models.exceptions import ValidationError
from assistant_models.models.chat.refs import instance_key, table_of

__all__ = [
    "MAX_POSITION",
    "ExecutionContext",
    "Persona",
    "PersonaManager",
    "PersonaModule",
    "PromptModule",
    "PromptModuleManager",
]

LIVE_ROWS = sa.text("deleted_at IS NULL")
#: The highest position of a module in a persona's list.
MAX_POSITION = 1_000_000

logger = logging.getLogger(__name__)


class ExecutionContext(enum.StrEnum):
    """When a prompt module runs in the staged pipeline."""

    IMMEDIATE = "immediate"
    POST_RESPONSE = "post_response"
    ON_DEMAND = "on_demand"


class PromptModuleManager(Manager["PromptModule"]):
    """Prompt modules: pieces of prompt and script a persona's pipeline runs.

    Every method here respects filters chained before it:
    ``PromptModule.objects.filter(type="memory").for_stage("immediate")``.
    """

    def for_stage(self, context: ExecutionContext | str) -> PromptModuleManager:
        """Return the active modules run at ``context``, by stage priority, then name.

        Raises:
            ValidationError: ``context`` is no :class:`ExecutionContext` (the error names
                ``execution_context``, the field it is compared with).
        """
        stage = validate_fields(PromptModule, {"execution_context": context})["execution_context"]
        return self.filter(is_active=True, execution_context=stage).order_by("stage_priority", "name")

    def for_persona(self, persona: Persona) -> PromptModuleManager:
        """Return the modules linked to ``persona`` (active or not), in its order: position, then name.

        Raises:
            ValidationError: ``persona`` is not a saved :class:`Persona`.
        """
        key = instance_key(persona, Persona, "persona", "PromptModule")
        return self.filter(persona_links__persona_id=key).order_by("persona_links__position", "name")

    def matching(self, text: str, *, persona: Persona | None = None) -> list[PromptModule]:
        """Return the active modules whose trigger pattern matches ``text``.

        A pattern matches when :func:`re.search` finds it anywhere in ``text`` (flags
        such as ``(?i)`` go in the pattern); a module without a pattern never matches.
        The modules come in the order of the QuerySet this is called on, by stage
        priority and name when it has none; with ``persona``, only that persona's
        modules, in its order.

        Matching runs in Python, not in SQL: the pattern is checked on write by
        Python's ``re`` (the model's validator), so the same engine must run it.
        PostgreSQL's regular expressions are another dialect (no ``(?P<name>...)``,
        other escapes and flags), which would refuse some valid patterns with an error
        that aborts the whole unit of work, or match others differently. Only the
        active modules with a pattern are read, and each pattern is compiled once per
        process. A row another client wrote with a pattern Python refuses is skipped
        with a warning on this module's logger; it never makes the call fail.

        Raises:
            ValidationError: ``text`` is not a string, or ``persona`` not a saved :class:`Persona`.
        """
        if not isinstance(text, str):
            raise ValidationError.single("text", "must be a string", "PromptModule")
        qs = self if persona is None else self.for_persona(persona)
        if not qs.ordered:
            qs = qs.order_by("stage_priority", "name")
        candidates = qs.filter(is_active=True, trigger_pattern__isnull=False)
        return [module for module in candidates if _triggered(module, text)]


class PersonaManager(Manager["Persona"]):
    """Personas: the characters an assistant speaks as, and the modules they use.

    A persona's name is unique among live personas (a ``ConflictError`` naming
    ``name`` otherwise); a soft-deleted persona's name can be used again.
    """

    def active(self) -> PersonaManager:
        """Return the active personas, by name (through ``objects``, live ones only)."""
        return self.filter(is_active=True).order_by("name")

    def add_module(
        self, persona: Persona, module: PromptModule, position: int | None = None
    ) -> PersonaModule:
        """Link ``module`` to ``persona`` at ``position``, in one statement; return the link.

        With no ``position`` the module goes after the persona's last one (0 for the
        first); linking a module already linked moves it to ``position``, or leaves it
        where it is when no position is given. Positions need not be distinct: modules
        at the same position come by name.

        Raises:
            ValidationError: ``persona`` or ``module`` is not a saved instance, or
                ``position`` is not an integer from 0 to :data:`MAX_POSITION`.
        """
        params = {
            "am_persona": instance_key(persona, Persona, "persona", "PersonaModule"),
            "am_module": instance_key(module, PromptModule, "module", "PersonaModule"),
        }
        if position is not None:
            params["am_position"] = validate_fields(PersonaModule, {"position": position})["position"]
        with translating():
            link: PersonaModule = self.session.execute(_link_statement(position is None), params).scalar_one()
        return link

    def remove_module(self, persona: Persona, module: PromptModule) -> bool:
        """Unlink ``module`` from ``persona``; return whether it was linked."""
        keys = {
            "persona_id": instance_key(persona, Persona, "persona", "PersonaModule"),
            "module_id": instance_key(module, PromptModule, "module", "PersonaModule"),
        }
        removed, _ = self.of(PersonaModule).filter(**keys).delete()
        return removed > 0

    def modules_of(self, persona: Persona) -> PromptModuleManager:
        """Return ``persona``'s modules in its order (see :meth:`PromptModuleManager.for_persona`)."""
        modules = PromptModule.objects
        if self._session is not None:
            modules = modules.using(self._session)
        return modules.for_persona(persona)


class Persona(UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AssistantModel, table=True):
    """A character the assistant plays: its template, mode and first message (table ``personas``)."""

    __tablename__ = "personas"
    __table_args__ = (
        sa.Index(
            "uq_personas__name", "name", unique=True, postgresql_where=LIVE_ROWS, info={"field": "name"}
        ),
    )

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20_000)
    template: str = Field(max_length=200_000)
    mode: str | None = Field(default=None, max_length=50)
    loop_frequency: str | None = Field(default=None, max_length=50)
    first_message: str | None = Field(default=None, max_length=20_000)
    image_path: str | None = Field(default=None, max_length=500)
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})

    objects: ClassVar[PersonaManager] = PersonaManager()
    all_objects: ClassVar[PersonaManager] = PersonaManager(visibility=ALL)
    deleted_objects: ClassVar[PersonaManager] = PersonaManager(visibility=DELETED)


class PromptModule(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """A piece of prompt (and optional script) run at one stage of a reply (table ``modules``)."""

    __tablename__ = "modules"
    __table_args__ = (
        sa.Index(
            "ix_modules__stage", "execution_context", "stage_priority", postgresql_where=sa.text("is_active")
        ),
    )

    name: str = Field(min_length=1, max_length=255, unique=True)
    description: str | None = Field(default=None, max_length=20_000)
    content: str | None = Field(default=None, max_length=200_000)
    type: str = Field(min_length=1, max_length=50)
    trigger_pattern: str | None = Field(default=None, max_length=500)
    script: str | None = Field(default=None, max_length=200_000)
    execution_context: ExecutionContext = Field(
        default=ExecutionContext.IMMEDIATE, sa_type=str_enum(ExecutionContext, 20)
    )
    requires_ai_inference: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    stage_priority: int = Field(default=100, ge=0, le=10_000)
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})

    persona_links: list[PersonaModule] = Relationship(
        sa_relationship=relationship("PersonaModule", back_populates="module", viewonly=True)
    )

    objects: ClassVar[PromptModuleManager] = PromptModuleManager()

    @field_validator("trigger_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value


class PersonaModule(AssistantModel, table=True):
    """A persona's use of a module, in order (table ``persona_modules``).

    Made by :meth:`PersonaManager.add_module`, removed by :meth:`PersonaManager.remove_module`.
    """

    __tablename__ = "persona_modules"

    persona_id: uuid.UUID = Field(foreign_key="personas.id", primary_key=True, ondelete="CASCADE")
    module_id: uuid.UUID = Field(foreign_key="modules.id", primary_key=True, ondelete="CASCADE", index=True)
    position: int = Field(default=0, ge=0, le=MAX_POSITION)

    module: PromptModule | None = Relationship(
        sa_relationship=relationship("PromptModule", back_populates="persona_links")
    )

    objects: ClassVar[Manager[PersonaModule]] = Manager()


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | re.error:
    """Return ``pattern`` compiled, or the error Python's ``re`` refuses it with (kept per process)."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        return exc


def _triggered(module: PromptModule, text: str) -> bool:
    """Return whether ``module``'s trigger pattern is found in ``text``; warn of a pattern ``re`` refuses."""
    pattern = _compiled(module.trigger_pattern or "")
    if isinstance(pattern, re.error):
        logger.warning(
            "prompt module %r (%s) skipped: Python's re refuses its trigger pattern (%s)",
            module.name,
            module.id,
            pattern,
        )
        return False
    return pattern.search(text) is not None


@cache
def _link_statement(append: bool) -> Any:
    """Return the upsert of a persona's link to a module, returning the link (built once per shape).

    ``append`` puts a new link after the persona's last one and leaves an existing one
    where it is; otherwise the link goes (or moves) to the ``am_position`` given.
    """
    table = table_of(PersonaModule)
    persona = sa.bindparam("am_persona", type_=sa.Uuid())
    position: Any = sa.bindparam("am_position", type_=sa.Integer())
    if append:
        last = sa.select(sa.func.max(table.c.position)).where(table.c.persona_id == persona)
        position = sa.func.coalesce(last.scalar_subquery() + 1, 0)
    insert = pg_insert(table).values(
        persona_id=persona, module_id=sa.bindparam("am_module", type_=sa.Uuid()), position=position
    )
    kept = table.c.position if append else insert.excluded.position
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.persona_id, table.c.module_id], set_={"position": kept}
    )
    stmt = sa.select(PersonaModule).from_statement(upsert.returning(*table.c))
    return stmt.execution_options(populate_existing=True)
