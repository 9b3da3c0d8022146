"""Approximate-nearest-neighbour indexes declared on a model: HNSW or IVFFlat, per metric."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import conv

from assistant_models.vector.distances import INDEX_METHODS, METRICS
from assistant_models.vector.types import INDEXED_DIMENSIONS, Vector

__all__ = ["VectorIndex"]


def VectorIndex(  # noqa: N802 (a schema item, named like sa.Index)
    field: str,
    *,
    method: str = "hnsw",
    metric: str = "cosine",
    name: str | None = None,
    **parameters: int,
) -> sa.Index:
    """Declare an approximate-nearest-neighbour index on a vector field, for ``__table_args__``.

    ::

        __table_args__ = (VectorIndex("embedding", metric="cosine", m=16, ef_construction=64),)

    The migration creates it (``CREATE INDEX ... USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64)``). An index serves one metric: ``nearest()``
    with that metric uses it. Its name, unless given, is
    ``ix_<table>__<field>_<method>_<metric>``, so one field can have an index per metric.

    Args:
        field: The vector field (at most 2,000 dimensions, pgvector's limit for indexes).
        method: ``"hnsw"`` (better recall for its speed, slower to build) or ``"ivfflat"``.
        metric: A name in :data:`METRICS`: ``cosine``, ``l2``, ``inner_product`` or
            ``l1`` (HNSW only).
        name: The index's name.
        **parameters: Build parameters: ``m`` and ``ef_construction`` for HNSW,
            ``lists`` for IVFFlat.

    Raises:
        TypeError: An unknown method or metric, a parameter the method does not take,
            or one out of its bounds.
    """
    if method not in INDEX_METHODS:
        raise TypeError(f"VectorIndex() method must be one of {', '.join(INDEX_METHODS)}, not {method!r}")
    measure = METRICS.get(metric)
    if measure is None:
        raise TypeError(f"VectorIndex() metric must be one of {', '.join(sorted(METRICS))}, not {metric!r}")
    if method not in measure.methods:
        raise TypeError(f"VectorIndex() metric {metric!r} has no {method} index in pgvector")
    bounds = INDEX_METHODS[method]
    for key, value in parameters.items():
        if key not in bounds:
            raise TypeError(f"VectorIndex() {method} takes {', '.join(bounds)}, not {key!r}")
        low, high = bounds[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TypeError(f"VectorIndex() {key} must be a whole number from {low} to {high}, not {value!r}")
    if method == "hnsw" and parameters.get("ef_construction", 64) < 2 * parameters.get("m", 16):
        raise TypeError("VectorIndex() ef_construction must be at least twice m")
    index = sa.Index(
        name,
        field,
        postgresql_using=method,
        postgresql_ops={field: measure.opclass},
        postgresql_with=dict(parameters),
    )
    index.info["vector_metric"] = measure.name
    if name is None:
        sa.event.listen(index, "after_parent_attach", _name_index(field, method, measure.name))
    return index


def _name_index(field: str, method: str, metric_name: str) -> Any:
    def attach(index: sa.Index, table: sa.Table) -> None:
        index.name = conv(f"ix_{table.name}__{field}_{method}_{metric_name}")
        column = table.c.get(field)
        kind = getattr(column, "type", None)
        if isinstance(kind, Vector) and kind.dim is not None and kind.dim > INDEXED_DIMENSIONS:
            raise TypeError(
                f"VectorIndex() on {table.name}.{field}: indexes take at most {INDEXED_DIMENSIONS} dimensions"
            )

    return attach
