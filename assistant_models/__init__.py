"""assistant_models: a SQLModel-based ORM with Django-style managers for AI-assistant data on PostgreSQL.

Importing the package has no side effects: listeners are installed when a
:class:`Database` is created (or a manager is given a session with ``using``).
"""

from assistant_models.core.aggregates import Aggregate, Avg, Count, Max, Min, StdDev, Sum, Variance
from assistant_models.core.audit import audit_actor
from assistant_models.core.base import AssistantModel
from assistant_models.core.expressions import (
    Case,
    Cast,
    Coalesce,
    Concat,
    Exists,
    Expression,
    F,
    Func,
    Greatest,
    Least,
    Length,
    Lower,
    Now,
    OuterRef,
    Q,
    Subquery,
    Upper,
    Value,
    When,
)
from assistant_models.core.lookups import Lookup, Transform, register_lookup
from assistant_models.core.manager import Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
    VersionMixin,
)
from assistant_models.core.pagination import MAX_PER_PAGE, CursorPage, Page
from assistant_models.core.queryset import QuerySet
from assistant_models.core.search import SearchMatch, SearchQuery, SearchRank
from assistant_models.database import Database
from assistant_models.exceptions import (
    AssistantModelsError,
    AsyncUsageError,
    ConflictError,
    DatabaseError,
    DatabaseUnavailableError,
    FieldError,
    InvalidTransition,
    MultipleObjectsReturned,
    NotFoundError,
    PoolTimeoutError,
    QueryTimeoutError,
    RelationNotLoadedError,
    RetryableError,
    SerializationError,
    SessionRequiredError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_PER_PAGE",
    "Aggregate",
    "AssistantModel",
    "AssistantModelsError",
    "AsyncUsageError",
    "AuditMixin",
    "Avg",
    "Case",
    "Cast",
    "Coalesce",
    "Concat",
    "ConflictError",
    "Count",
    "CursorPage",
    "Database",
    "DatabaseError",
    "DatabaseUnavailableError",
    "Exists",
    "Expression",
    "F",
    "FieldError",
    "Func",
    "Greatest",
    "InvalidTransition",
    "Least",
    "Length",
    "Lookup",
    "Lower",
    "Manager",
    "Max",
    "Min",
    "MultipleObjectsReturned",
    "NotFoundError",
    "Now",
    "OuterRef",
    "Page",
    "PoolTimeoutError",
    "Q",
    "QuerySet",
    "QueryTimeoutError",
    "RelationNotLoadedError",
    "RetryableError",
    "SearchMatch",
    "SearchQuery",
    "SearchRank",
    "SerializationError",
    "SessionRequiredError",
    "SoftDeleteMixin",
    "StdDev",
    "Subquery",
    "Sum",
    "TimestampMixin",
    "Transform",
    "UUIDPrimaryKeyMixin",
    "Upper",
    "ValidationError",
    "Value",
    "Variance",
    "VersionMixin",
    "When",
    "__version__",
    "audit_actor",
    "register_lookup",
]
