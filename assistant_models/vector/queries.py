"""Nearest-neighbour and hybrid search on a QuerySet: ``nearest()`` and ``hybrid_search()``.

A model's manager gets them by deriving from :class:`VectorManager` (or a QuerySet from
:class:`VectorQuerySet`)::

    class Doc(AssistantModel, table=True):
        __table_args__ = (VectorIndex("embedding", metric="cosine"),)
        embedding: Any = VectorField(384)
        objects: ClassVar[VectorManager[Doc]] = VectorManager()

    Doc.objects.filter(lang="en").nearest("embedding", query, k=10)

Both run at once and return a list: their statements need settings that hold for
that statement only (pgvector's ``hnsw.ef_search``, its iterative index scans), and
``nearest()`` checks what came back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assistant_models.core.expressions import F
from assistant_models.core.manager import Manager
from assistant_models.core.queryset import QuerySet
from assistant_models.core.search import RANK
from assistant_models.exceptions import FieldError, ValidationError
from assistant_models.vector.distances import Metric, metric_named
from assistant_models.vector.types import Vector, vector_problem

__all__ = ["MAX_K", "VectorManager", "VectorQuerySet", "scan_settings"]

M = TypeVar("M", bound=Any)

_log = logging.getLogger("assistant_models.vector")

#: The most rows ``nearest()`` and ``hybrid_search()`` return (pgvector's largest ``ef_search``).
MAX_K = 1000
#: The alias under which ``nearest()`` keeps its distance, and the attribute it sets.
DISTANCE = "distance"

#: pgvector's settings a search may set for one statement, and their defaults (used to restore
#: a setting that pgvector had not defined yet in this connection).
_DEFAULTS = {
    "hnsw.ef_search": "40",
    "hnsw.iterative_scan": "off",
    "ivfflat.probes": "1",
    "ivfflat.iterative_scan": "off",
}


@contextmanager
def scan_settings(session: Session, settings: dict[str, str]) -> Iterator[None]:
    """Apply pgvector ``settings`` to the statements run inside, then put the old values back.

    One statement reads the old values and sets the new ones (``set_config(..., true)``,
    so nothing outlives the transaction), one restores them; with no settings, nothing
    runs. After an error nothing is restored: the failed transaction or savepoint is
    rolled back, and its settings with it.
    """
    if not settings:
        yield
        return
    names = list(settings)
    reads = ", ".join(f"current_setting(:n{i}, true)" for i in range(len(names)))
    writes = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    params = {f"n{i}": name for i, name in enumerate(names)} | {
        f"v{i}": settings[n] for i, n in enumerate(names)
    }
    old = session.execute(sa.text(f"SELECT {reads}, {writes}"), params).one()
    yield
    back = {f"v{i}": old[i] if old[i] is not None else _DEFAULTS[name] for i, name in enumerate(names)}
    session.execute(sa.text(f"SELECT {writes}"), params | back)


def _whole(value: Any, name: str, model: str, low: int = 1, high: int = MAX_K) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError.single(name, f"must be a whole number from {low} to {high}", model)
    return value


class VectorQuerySet(QuerySet[M]):
    """A QuerySet with nearest-neighbour and hybrid (words and meaning) search."""

    def _vector_field(self, field: str, vector: Any) -> Vector:
        """Return ``field``'s vector type once ``vector`` fits it.

        Raises:
            FieldError: ``field`` is not a vector field of the model.
            ValidationError: ``vector`` is not a vector of the field's dimensions.
        """
        name = self.model.__name__
        column = self.model.__table__.c.get(field) if isinstance(field, str) else None
        if column is None or not isinstance(column.type, Vector):
            raise FieldError([f"{field!r} is not a vector field of {name}"], name)
        problem = vector_problem(vector, column.type.dim)
        if problem is not None:
            raise ValidationError.single("vector", problem, name)
        kind: Vector = column.type
        return kind

    def _settings(self, measure: Metric, k: int, ef_search: int | None, probes: int | None) -> dict[str, str]:
        """Return the pgvector settings a search of ``k`` rows among this QuerySet's rows needs.

        A filtered search, or one of more rows than the index's candidate list, scans the
        index iteratively (pgvector 0.8), so filters that drop most candidates still
        fill ``k`` rows; HNSW keeps strict distance order.
        """
        settings: dict[str, str] = {}
        if ef_search is not None:
            settings["hnsw.ef_search"] = str(ef_search)
        if probes is not None:
            settings["ivfflat.probes"] = str(probes)
        filtered = self.statement().whereclause is not None
        if filtered or k > int(_DEFAULTS["hnsw.ef_search"]):
            settings["hnsw.iterative_scan"] = "strict_order"
            settings["ivfflat.iterative_scan"] = "relaxed_order"
        return settings

    def nearest(
        self,
        field: str,
        vector: Any,
        k: int = 10,
        *,
        metric: str = "cosine",
        max_distance: float | None = None,
        ef_search: int | None = None,
        probes: int | None = None,
    ) -> list[M]:
        """Return the ``k`` rows nearest to ``vector``, nearest first, among this QuerySet's rows.

        Each row gets ``distance`` (smaller is nearer; for ``inner_product`` the negative
        inner product) and, where the metric has one, ``similarity`` (``1 - distance``
        for cosine, the inner product for ``inner_product``). An index of the field for
        ``metric`` (:func:`~assistant_models.vector.VectorIndex`) serves the search.

        The QuerySet's filters apply inside the index scan: a filtered search uses
        pgvector's iterative index scans, and if the index still yields fewer than ``k``
        rows, the search is repeated exactly (every matching row measured), so it never
        returns fewer than ``k`` rows while ``k`` rows match.

        Args:
            field: The vector field.
            vector: The query vector (list, tuple or numpy array of the field's dimensions).
            k: How many rows, 1 to 1000.
            metric: ``cosine``, ``l2``, ``inner_product`` or ``l1`` (see ``METRICS``).
            max_distance: Leave out rows farther than this.
            ef_search: HNSW's candidate list for this statement only (1 to 1000; more
                is slower and finds more of the true nearest rows).
            probes: IVFFlat's lists to visit, for this statement only.

        Raises:
            FieldError: ``field`` is not a vector field.
            ValidationError: A bad vector, ``k``, ``metric``, ``max_distance``,
                ``ef_search`` or ``probes``; no SQL is run.
        """
        model = self.model.__name__
        self._refuse_sliced("search")
        self._vector_field(field, vector)
        measure = metric_named(metric)
        k = _whole(k, "k", model)
        if ef_search is not None:
            _whole(ef_search, "ef_search", model)
        if probes is not None:
            _whole(probes, "probes", model, high=32768)
        if max_distance is not None and (
            isinstance(max_distance, bool)
            or not isinstance(max_distance, (int, float))
            or not math.isfinite(max_distance)
        ):
            raise ValidationError.single("max_distance", "must be a finite number", model)
        measured = self.annotate(**{DISTANCE: measure.distance(field, vector)})
        if self.model.__table__.c[field].nullable:  # a row without a vector has no distance
            measured = measured.filter(**{f"{field}__isnull": False})
        if max_distance is not None:
            measured = measured.filter(**{f"{DISTANCE}__lte": float(max_distance)})
        ranked = measured.order_by(DISTANCE)[:k]
        with scan_settings(ranked.session, ranked._settings(measure, k, ef_search, probes)):
            rows = list(ranked)
        if len(rows) < k:
            # the index gave up early (a filter rejecting most candidates): measure every row
            exact = list(measured.order_by((F(DISTANCE) + 0).asc())[:k])
            if len(exact) > len(rows):
                _log.debug("nearest: the index found %d of %d rows; measured every row", len(rows), k)
            rows = exact
        rows.sort(key=lambda row: getattr(row, DISTANCE))  # IVFFlat's iterative scan is loosely ordered
        if measure.similarity is not None:
            for row in rows:
                row.__dict__["similarity"] = measure.similarity(getattr(row, DISTANCE))
        return rows

    def hybrid_search(
        self,
        text: str,
        field: str,
        vector: Any,
        k: int = 10,
        rrf_k: int = 60,
        *,
        metric: str = "cosine",
        candidates: int | None = None,
        ef_search: int | None = None,
    ) -> list[M]:
        """Return the ``k`` rows that best match ``text`` by words and ``vector`` by meaning.

        Reciprocal rank fusion (Cormack et al., 2009) in one SQL statement: the
        ``candidates`` best rows by full-text rank (the model's ``__searchable__``
        fields, web-style query) and the ``candidates`` nearest by ``metric`` are each
        ranked from 1, and a row scores ``1 / (rrf_k + rank)`` summed over the lists it
        is in. Rows get ``score``, ``text_rank`` and ``vector_rank`` (``None`` where the
        row is not in that list); best first, ties by key.

        Args:
            text: The words (any text; quotes, ``or`` and ``-`` as in web searches).
            field: The vector field.
            vector: The query vector.
            k: How many rows, 1 to 1000.
            rrf_k: The fusion constant (60 in the paper): larger flattens the ranks.
            metric: The vector metric.
            candidates: Rows taken from each list before fusing; ``max(2 * k, 40)`` by default.
            ef_search: HNSW's candidate list for this statement only.

        Raises:
            FieldError: ``field`` is not a vector field, or the model has no searchable fields.
            ValidationError: A bad argument; no SQL is run.
        """
        model = self.model.__name__
        self._refuse_sliced("search")
        self._vector_field(field, vector)
        measure = metric_named(metric)
        k = _whole(k, "k", model)
        rrf_k = _whole(rrf_k, "rrf_k", model, low=0, high=1_000_000)
        pool = (
            _whole(candidates, "candidates", model) if candidates is not None else min(max(2 * k, 40), MAX_K)
        )
        if ef_search is not None:
            _whole(ef_search, "ef_search", model)
        hidden = "am_vector_distance"
        base = self.alias(**{hidden: measure.distance(field, vector)})
        if self.model.__table__.c[field].nullable:
            base = base.filter(**{f"{field}__isnull": False})
        words = base.search(text)  # binds the text after the vector: one set of parameters for both
        by_meaning = base.order_by(hidden).values_list("pk", hidden)[:pool].statement().subquery("by_meaning")
        by_words = words.values_list("pk", RANK)[:pool].statement().subquery("by_words")
        statement = _fused(self.model, by_meaning, by_words, rrf_k, k)
        with scan_settings(words.session, words._settings(measure, pool, ef_search, None)):
            found = words.execute(statement).all()
        rows = []
        for obj, score, text_rank, vector_rank in found:
            obj.__dict__.update(score=score, text_rank=text_rank, vector_rank=vector_rank)
            rows.append(obj)
        return rows


def _fused(model: Any, by_meaning: sa.Subquery, by_words: sa.Subquery, rrf_k: int, k: int) -> sa.Select[Any]:
    """Return the statement fusing (key, distance) and (key, text rank) subqueries by reciprocal rank."""
    meaning_key, distance = by_meaning.c[0], by_meaning.c[1]
    words_key, text_rank = by_words.c[0], by_words.c[1]
    nearest_first = sa.func.row_number().over(order_by=(distance, meaning_key))
    best_first = sa.func.row_number().over(order_by=(text_rank.desc(), words_key))
    meaning = sa.select(meaning_key.label("key"), nearest_first.label("rank")).subquery("meaning")
    words = sa.select(words_key.label("key"), best_first.label("rank")).subquery("words")
    key = sa.func.coalesce(meaning.c.key, words.c.key)
    weight = sa.literal(rrf_k, sa.Integer)
    score = sa.func.coalesce(1.0 / (weight + meaning.c.rank), 0.0) + sa.func.coalesce(
        1.0 / (weight + words.c.rank), 0.0
    )
    fused = (
        sa.select(
            key.label("key"),
            score.label("score"),
            words.c.rank.label("text_rank"),
            meaning.c.rank.label("vector_rank"),
        )
        .select_from(meaning.join(words, meaning.c.key == words.c.key, full=True))
        .subquery("fused")
    )
    pk = sa.inspect(model).primary_key[0]
    return (
        sa.select(model, fused.c.score, fused.c.text_rank, fused.c.vector_rank)
        .join(fused, pk == fused.c.key)
        .order_by(fused.c.score.desc(), pk)
        .limit(k)
    )


class VectorManager(Manager[M], VectorQuerySet[M]):
    """A manager with :meth:`~VectorQuerySet.nearest` and :meth:`~VectorQuerySet.hybrid_search`."""
