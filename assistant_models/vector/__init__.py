"""Vectors (pgvector) in the core's vocabulary: a column type, distances, indexes and searches.

The ``vector`` extension must exist in the database: ``migrate()`` creates it where the
server has pgvector::

    class Doc(AssistantModel, table=True):
        __table_args__ = (VectorIndex("embedding", metric="cosine", m=16, ef_construction=64),)
        id: int | None = Field(default=None, primary_key=True)
        embedding: Any = VectorField(3)
        objects: ClassVar[VectorManager[Doc]] = VectorManager()

    Doc.objects.create(embedding=[0.1, 0.2, 0.3])
    Doc.objects.annotate(distance=CosineDistance("embedding", query)).order_by("distance")
    Doc.objects.nearest("embedding", query, k=5)
    Doc.objects.aggregate(centroid=VectorAvg("embedding"))

A vector is written from a list, a tuple or a one-dimensional numpy array of finite
numbers with exactly the column's dimensions; anything else is refused with a
:class:`~assistant_models.exceptions.ValidationError` naming the field, before any SQL.
It reads back as a numpy array of ``float32`` (pgvector stores single precision); an
instance keeps the value it was given until it is read again.
"""

from assistant_models.vector.aggregates import VectorAggregate, VectorAvg, VectorSum
from assistant_models.vector.distances import (
    INDEX_METHODS,
    METRICS,
    CosineDistance,
    Distance,
    L1Distance,
    L2Distance,
    MaxInnerProduct,
    Metric,
    metric_named,
    register_metric,
)
from assistant_models.vector.indexes import VectorIndex
from assistant_models.vector.queries import MAX_K, VectorManager, VectorQuerySet, scan_settings
from assistant_models.vector.types import (
    INDEXED_DIMENSIONS,
    MAX_DIMENSIONS,
    Vector,
    VectorField,
    vector_problem,
)

__all__ = [
    "INDEXED_DIMENSIONS",
    "INDEX_METHODS",
    "MAX_DIMENSIONS",
    "MAX_K",
    "METRICS",
    "CosineDistance",
    "Distance",
    "L1Distance",
    "L2Distance",
    "MaxInnerProduct",
    "Metric",
    "Vector",
    "VectorAggregate",
    "VectorAvg",
    "VectorField",
    "VectorIndex",
    "VectorManager",
    "VectorQuerySet",
    "VectorSum",
    "metric_named",
    "register_metric",
    "scan_settings",
    "vector_problem",
]
