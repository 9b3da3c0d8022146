"""Stand-in for ``assistant_models``: Django's names under the package's spelling."""

import sqlalchemy as sa
from django.core.exceptions import FieldError, MultipleObjectsReturned, ValidationError
from django.core.exceptions import ObjectDoesNotExist as NotFoundError
from django.db import IntegrityError as ConflictError
from django.db import models
from django.db.models import Avg, Case, Count, Exists, F, Func, Max, Min, OuterRef, Q, Subquery, Sum, When
from django.db.models.functions import Cast as _Cast
from django.db.models.functions import Coalesce, Concat, Greatest, Least, Lower, Now, Upper

__all__ = [
    "Avg",
    "Case",
    "Cast",
    "Coalesce",
    "Concat",
    "ConflictError",
    "Count",
    "Exists",
    "F",
    "FieldError",
    "Func",
    "Greatest",
    "Least",
    "Lower",
    "Max",
    "Min",
    "MultipleObjectsReturned",
    "NotFoundError",
    "Now",
    "OuterRef",
    "Q",
    "Subquery",
    "Sum",
    "Upper",
    "ValidationError",
    "Value",
    "When",
]


def _field(sa_type: object) -> models.Field:
    """Return the Django field of a SQLAlchemy type (the package's ``Cast``/``Value`` take types)."""
    if isinstance(sa_type, sa.String):
        return models.TextField()
    if isinstance(sa_type, sa.Integer):
        return models.IntegerField()
    raise TypeError(sa_type)


def Value(value: object, output: object = None) -> models.Value:  # noqa: N802 - stands in for a class
    """Return Django's ``Value``, with an output field when a SQLAlchemy type is given."""
    return models.Value(value, output_field=_field(output)) if output is not None else models.Value(value)


def Cast(expression: object, sa_type: object) -> _Cast:  # noqa: N802 - stands in for a class
    """Return Django's ``Cast`` to the field of a SQLAlchemy type."""
    return _Cast(expression, _field(sa_type))
