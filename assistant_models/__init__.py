"""assistant_models: a SQLModel-based ORM with Django-style managers for AI-assistant data on PostgreSQL.

Importing the package has no side effects: listeners are installed when a
:class:`Database` is created (or a manager is given a session with ``using``).
"""

from assistant_models.core.audit import audit_actor
from assistant_models.core.base import AssistantModel
from assistant_models.core.lookups import F, Q
from assistant_models.core.manager import Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
    VersionMixin,
)
from assistant_models.core.pagination import MAX_PER_PAGE, CursorPage, Page
from assistant_models.core.query import Avg, Count, Max, Min, QuerySet, Sum
from assistant_models.database import Database
from assistant_models.exceptions import (
    AssistantModelsError,
    ConflictError,
    DatabaseUnavailableError,
    FieldError,
    InvalidTransition,
    MultipleObjectsReturned,
    NotFoundError,
    PoolTimeoutError,
    QueryTimeoutError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_PER_PAGE",
    "AssistantModel",
    "AssistantModelsError",
    "AuditMixin",
    "Avg",
    "ConflictError",
    "Count",
    "CursorPage",
    "Database",
    "DatabaseUnavailableError",
    "F",
    "FieldError",
    "InvalidTransition",
    "Manager",
    "Max",
    "Min",
    "MultipleObjectsReturned",
    "NotFoundError",
    "Page",
    "PoolTimeoutError",
    "Q",
    "QuerySet",
    "QueryTimeoutError",
    "SoftDeleteMixin",
    "Sum",
    "TimestampMixin",
    "UUIDPrimaryKeyMixin",
    "ValidationError",
    "VersionMixin",
    "__version__",
    "audit_actor",
]
