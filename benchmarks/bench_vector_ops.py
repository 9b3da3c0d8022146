"""The vector benchmark's timed operations: each contender of nearest, recall and hybrid search.

The managers run in ``db.session()`` units of work and in one long-lived session
(``managers_in_uow``); raw psycopg2, the base of every ratio, sends the statements the
managers send: replayed from the managers' own when they are one statement (recall,
hybrid search), written out the same way for ``nearest`` (whose exact fallback depends
on what the index returned).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from bench_harness import BASE, Call, Plan, Setup
from bench_reads import IN_UOW, in_open_unit_of_work
from bench_vector_data import BenchDoc, VectorPlan, query_category
from bench_vector_sql import (
    Sent,
    core_nearest,
    hybrid_sql,
    main_statement,
    nearest_sql,
    orm_nearest,
    plan_of,
    raw_hybrid,
    raw_nearest,
    raw_recall,
    recall_sql,
    replayer,
    scan_settings,
    set_sql,
    statements_of,
)

from assistant_models import Database
from assistant_models.core.context import bind_session, forget_current_session, unbind_session
from assistant_models.models.memory import ConversationMemory

#: ``ef_search`` of the timed ``nearest`` calls: the lowest of the curve that meets the recall goal.
EF_TIMED = 100
RECALL_K = 5
RRF_K = 60
HYBRID_CANDIDATES = 40  # per side of the fusion
RECALL_CANDIDATES = 50
#: Raw psycopg2 as one would write it by hand, for information: no restoring of the scan
#: settings, the vector sent once.
MINIMAL = "psycopg2_minimal"
CONTENDERS = ("managers", IN_UOW, "sa_orm", "sa_core", MINIMAL, BASE)


@dataclass
class VBench:
    """The database, the raw connection and the data an operation needs."""

    db: Database
    raw: Any
    plan: Plan
    vplan: VectorPlan
    rows: np.ndarray
    queries: np.ndarray
    memory_queries: np.ndarray
    chats: list[uuid.UUID]

    @property
    def engine(self) -> sa.Engine:
        return self.db.engine

    def q(self, i: int) -> np.ndarray:
        return self.queries[i % len(self.queries)]


def _check_same(
    notes: list[str], label: str, mine: Callable[[int], list[Any]], base: Callable[[int], list[Any]]
) -> None:
    """Note whether the managers return the rows psycopg2 does, in the same order, for a few calls."""
    try:
        same = sum(mine(i) == base(i) for i in range(10))
    except Exception as exc:  # the managers' API is missing: measure() says so for the timing
        notes.append(f"{label}: not compared ({type(exc).__name__})")
        return
    notes.append(f"{label}: same rows in the same order as psycopg2 in {same} of 10 calls")


def _sent(b: VBench, notes: list[str], call: Callable[[int], object]) -> list[Sent] | None:
    """Note the statements the managers' ``call(0)`` sends; return them, or ``None`` if it fails."""
    try:
        sent = statements_of(b.engine, lambda: call(0))
    except Exception as exc:
        notes.append(f"managers' statements not captured: {type(exc).__name__}: {str(exc)[:120]}")
        return None
    notes.extend(f"managers sent: {statement}" for statement, _params in sent)
    return sent


def _raw_base(
    b: VBench,
    notes: list[str],
    managers: Callable[[int], object],
    hand_written: tuple[Call, str, dict[str, Any]],
    vector_of: Callable[[int], np.ndarray],
    key_of: Callable[[int], Any],
) -> Call:
    """Return psycopg2's contender: the managers' own statements replayed, else the hand-written equivalent.

    Replayed, psycopg2 sends the very statement text the managers compiled, with each
    call's query vector (and key) in the captured parameters.
    """
    sent = _sent(b, notes, managers)
    if sent is None:
        call, statement, params = hand_written
        notes.append("psycopg2 runs the hand-written equivalent statement (the managers' call failed)")
        notes.append(f"psycopg2 plan: {plan_of(b.raw, [], statement, params)}")
        return call
    replay = replayer(sent, key_of(0))
    notes.append("psycopg2 replays the managers' statements as captured, with each call's vector and key")
    before, (statement, params) = main_statement(sent)
    notes.append(f"psycopg2 plan: {plan_of(b.raw, before, statement, params)}")
    return lambda i: replay(b.raw, vector_of(i), key_of(i))


def in_open_session_committing(b: VBench, write: Call) -> tuple[Call, Callable[[list[str]], None]]:
    """Return ``write`` run in one long-lived session that commits after each call.

    A write cannot share one open transaction across calls as reads do: its row locks
    would hold up the other contenders' writes to the same rows. The session stays (no
    new session, no pool checkout per call), and each call pays BEGIN and COMMIT, as
    psycopg2's does.
    """
    unit = b.db.session()
    session = unit.__enter__()
    forget_current_session()

    def call(i: int) -> object:
        token = bind_session(session)
        try:
            session.expunge_all()
            out = write(i)
            session.commit()
            return out
        finally:
            unbind_session(token)

    def close(notes: list[str]) -> None:
        unit.__exit__(None, None, None)
        notes.append(
            f"{IN_UOW}: the managers' call in one long-lived session, committed after each call as "
            "psycopg2's is: what the layer adds without a new session and pool checkout per call"
        )

    return call, close


def _ids(rows: list[Any]) -> list[Any]:
    """Return the keys of managers' results: instances, or (instance, score) pairs."""
    return [row[0].id if isinstance(row, tuple) else row.id for row in rows]


def setup_nearest(filtered: bool) -> Callable[[VBench], Setup]:
    def setup(b: VBench) -> Setup:
        k, ef = b.vplan.k, EF_TIMED

        def cat(i: int) -> int | None:
            return query_category(i) if filtered else None

        def find(i: int) -> list[Any]:
            qs = BenchDoc.objects.filter(category=cat(i)) if filtered else BenchDoc.objects
            return list(qs.nearest("embedding", b.q(i), k=k, ef_search=ef))

        def managers(i: int) -> object:
            with b.db.session():
                return find(i)

        def raw_pg(i: int) -> object:
            return raw_nearest(b.raw, b.q(i), k, ef, cat(i))

        in_uow, close = in_open_unit_of_work(b, find)
        fns = {
            "managers": managers,
            IN_UOW: in_uow,
            "sa_orm": lambda i: orm_nearest(b.engine, b.q(i), k, ef, cat(i)),
            "sa_core": lambda i: core_nearest(b.engine, b.q(i), k, ef, cat(i)),
            BASE: raw_pg,
            MINIMAL: lambda i: raw_nearest(b.raw, b.q(i), k, ef, cat(i), minimal=True),
        }
        notes: list[str] = []
        settings = scan_settings(k, ef, filtered)
        params = {"q": b.q(0), "k": k, "category": cat(0)}
        setting = [(set_sql(settings), {})] if settings else []
        notes.append(f"psycopg2 plan: {plan_of(b.raw, setting, nearest_sql(filtered), params)}")
        _sent(b, notes, managers)
        _check_same(notes, "ids", lambda i: _ids(managers(i)), lambda i: [r[0] for r in raw_pg(i)])
        return Setup(fns, notes, after=close)

    return setup


def setup_recall(by_session: bool) -> Callable[[VBench], Setup]:
    def setup(b: VBench) -> Setup:
        def chat(i: int) -> uuid.UUID | None:
            return b.chats[i % len(b.chats)] if by_session else None

        def mq(i: int) -> np.ndarray:
            return b.memory_queries[i % len(b.memory_queries)]

        def find(i: int) -> list[Any]:
            return list(ConversationMemory.objects.recall(mq(i), session=chat(i), k=RECALL_K))

        def managers(i: int) -> object:
            with b.db.session():
                return find(i)

        def hand_written(i: int) -> object:
            return raw_recall(b.raw, mq(i), RECALL_K, chat(i), RECALL_CANDIDATES)

        in_uow, close = in_open_session_committing(b, find)
        notes: list[str] = []
        params = {"q": mq(0), "k": RECALL_K, "session": chat(0)}
        hand = (hand_written, recall_sql(by_session, RECALL_CANDIDATES), params)
        raw_pg = _raw_base(b, notes, managers, hand, mq, chat)
        notes.append("rows not compared: each recall moves the recency of what it returns")
        return Setup({"managers": managers, IN_UOW: in_uow, BASE: raw_pg}, notes, after=close)

    return setup


def setup_hybrid(term: str) -> Callable[[VBench], Setup]:
    def setup(b: VBench) -> Setup:
        k = b.vplan.k

        def find(i: int) -> list[Any]:
            return list(BenchDoc.objects.hybrid_search(term, "embedding", b.q(i), k=k, rrf_k=RRF_K))

        def managers(i: int) -> object:
            with b.db.session():
                return find(i)

        def hand_written(i: int) -> object:
            return raw_hybrid(b.raw, term, b.q(i), k, RRF_K, HYBRID_CANDIDATES)

        in_uow, close = in_open_unit_of_work(b, find)
        notes: list[str] = []
        params = {"q": b.q(0), "k": k, "text": term, "rrf_k": RRF_K}
        hand = (hand_written, hybrid_sql(HYBRID_CANDIDATES), params)
        raw_pg = _raw_base(b, notes, managers, hand, b.q, lambda i: None)
        _check_same(notes, "ids", lambda i: _ids(managers(i)), lambda i: [r[0] for r in raw_pg(i)])
        return Setup({"managers": managers, IN_UOW: in_uow, BASE: raw_pg}, notes, after=close)

    return setup
