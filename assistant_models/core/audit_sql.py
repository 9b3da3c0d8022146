"""Audit rows written by SQL: the same statement as the change carries them (data-modifying CTEs).

Set-based updates and deletes, single inserts and bulk inserts audit through these
builders; flushes of single objects audit through :mod:`assistant_models.core.audit`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from assistant_models.core.audit import ACTOR_PARAM, REDACTED, AuditAction, AuditLogBase
from assistant_models.core.concerns import SoftDelete, concern

__all__ = ["ACTOR", "AUDIT_COLUMNS", "audit_table", "diff_audit", "key_text", "snapshot_audit"]

#: The bound parameter that carries the actor's id into SQL-built audit rows.
ACTOR: Any = sa.bindparam(ACTOR_PARAM, type_=sa.Uuid())
AUDIT_COLUMNS = ["id", "action", "table_name", "row_id", "actor_id", "changes"]
_REDACTED_JSON: Any = sa.literal_column(f"to_jsonb('{REDACTED}'::text)")


def audit_table() -> sa.Table | None:
    """Return the mapped audit log table, or ``None`` when no audit model is mapped."""
    for cls in AuditLogBase.__subclasses__():
        table = getattr(cls, "__table__", None)
        if isinstance(table, sa.Table):
            return table
    return None


def key_text(columns: list[Any]) -> Any:
    """Return a row's key as audit text: the value, or the values joined by commas (composite keys)."""
    texts = [sa.cast(c, sa.Text) for c in columns]
    return texts[0] if len(texts) == 1 else sa.func.concat_ws(",", *texts)


def _json(col: Any, secret: bool) -> Any:
    """Return a column as JSONB, or the redaction marker for a secret."""
    return _REDACTED_JSON if secret else sa.func.to_jsonb(col)


def diff_audit(model: type[Any], upd: Any, fields: list[str], key: Any) -> Any:
    """Return the CTE that audits a set-based update: one row per changed row, with a before/after diff.

    Args:
        model: The audited model (its secret fields are redacted).
        upd: The ``UPDATE ... RETURNING`` CTE, with ``old_<field>`` and ``new_<field>`` columns.
        fields: The fields the update sets.
        key: SQL of the row's key as text (:func:`key_text`).
    """
    audit = audit_table()
    if audit is None:
        return None
    secret = model.__secret_fields__
    changed = {f: upd.c[f"new_{f}"].is_distinct_from(upd.c[f"old_{f}"]) for f in fields}
    parts = [
        sa.case(
            (
                cond,
                sa.func.jsonb_build_object(
                    f,
                    sa.func.jsonb_build_object(
                        "before",
                        _json(upd.c[f"old_{f}"], f in secret),
                        "after",
                        _json(upd.c[f"new_{f}"], f in secret),
                    ),
                ),
            ),
            else_=sa.literal_column("'{}'::jsonb"),
        )
        for f, cond in changed.items()
    ]
    diff: Any = parts[0]
    for part in parts[1:]:
        diff = diff.op("||")(part)
    action: Any = sa.literal(AuditAction.UPDATE.value)
    soft = concern(model, SoftDelete)
    if soft is not None and soft.column in fields:
        action = sa.case(
            (~changed[soft.column], sa.literal(AuditAction.UPDATE.value)),
            (upd.c[f"new_{soft.column}"].is_(None), sa.literal(AuditAction.RESTORE.value)),
            else_=sa.literal(AuditAction.SOFT_DELETE.value),
        )
    rows = sa.select(
        sa.func.gen_random_uuid(),
        action,
        sa.literal(model.__tablename__),
        key,
        ACTOR,
        sa.func.jsonb_build_object("fields", diff),
    ).where(sa.or_(*changed.values()))
    return audit.insert().from_select(AUDIT_COLUMNS, rows).cte("am_audit")


def snapshot_audit(
    model: type[Any], rows: Any, action: AuditAction, side: str, actor: Any, where: Any = None
) -> Any:
    """Return ``INSERT INTO audit_logs ... SELECT`` auditing every row of ``rows`` as a whole snapshot.

    Args:
        model: The audited model (its secret fields are redacted).
        rows: A CTE (``INSERT/DELETE ... RETURNING *``) or an alias of the model's table.
        action: ``create`` or ``delete``.
        side: ``"after"`` for creates, ``"before"`` for deletes.
        actor: SQL expression of the actor's id.
        where: Optional condition on ``rows``.

    Returns:
        The INSERT statement, or ``None`` when no audit table is mapped.
    """
    audit = audit_table()
    if audit is None:
        return None
    snapshot: Any = sa.func.to_jsonb(sa.literal_column(rows.name))
    for column in model.__table__.columns:  # generated columns (a search vector) are no data
        if column.computed is not None:
            snapshot = snapshot.op("-")(sa.literal_column(f"'{column.name}'"))
    for name in sorted(model.__secret_fields__):
        snapshot = snapshot.op("||")(
            sa.func.jsonb_build_object(sa.literal_column(f"'{name}'"), _REDACTED_JSON)
        )
    select = sa.select(
        sa.func.gen_random_uuid(),
        sa.literal(action.value),
        sa.literal(model.__tablename__),
        key_text([rows.c[c.name] for c in model.__table__.primary_key.columns]),
        actor,
        sa.func.jsonb_build_object(side, snapshot),
    ).select_from(rows)
    if where is not None:
        select = select.where(where)
    return audit.insert().from_select(AUDIT_COLUMNS, select)
