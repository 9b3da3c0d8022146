"""Personas and the prompt modules they use."""

from __future__ import annotations

import enum
import re
import uuid
from typing import ClassVar

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field

from assistant_models.core.base import AssistantModel
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import str_enum

__all__ = [
    "ExecutionContext",
    "Persona",
    "PersonaManager",
    "PersonaModule",
    "PromptModule",
    "PromptModuleManager",
]

LIVE_ROWS = sa.text("deleted_at IS NULL")


class ExecutionContext(enum.StrEnum):
    """When a prompt module runs in the staged pipeline."""

    IMMEDIATE = "immediate"
    POST_RESPONSE = "post_response"
    ON_DEMAND = "on_demand"


class PersonaManager(Manager["Persona"]):
    """Personas: the characters an assistant speaks as."""


class PromptModuleManager(Manager["PromptModule"]):
    """Prompt modules: pieces of prompt and script a persona's pipeline runs."""


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
    """A persona's use of a module, in order (table ``persona_modules``)."""

    __tablename__ = "persona_modules"

    persona_id: uuid.UUID = Field(foreign_key="personas.id", primary_key=True, ondelete="CASCADE")
    module_id: uuid.UUID = Field(foreign_key="modules.id", primary_key=True, ondelete="CASCADE", index=True)
    position: int = Field(default=0, ge=0)
