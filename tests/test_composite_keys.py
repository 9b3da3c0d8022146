"""Composite primary keys work through the core: reads, set-based writes, audit and cursors."""

from lab_models import Membership

from assistant_models.models import AuditLog


def _team(lab):
    return Membership.objects.bulk_create(
        [Membership(team="red", member=i, role="member") for i in range(1, 4)]
        + [Membership(team="blue", member=1, role="lead")]
    )


def test_rows_are_found_and_counted_by_their_whole_key(lab):
    _team(lab)
    assert Membership.objects.get(team="blue", member=1).role == "lead"
    assert Membership.objects.filter(member=1).count() == 2
    blue = Membership.objects.get(team="blue", member=1)
    assert Membership.objects.filter(team="blue").contains(blue)


def test_set_based_update_and_delete_touch_exactly_the_matching_rows(lab):
    _team(lab)
    assert Membership.objects.filter(team="red", member__gte=2).update(role="guest") == 2
    roles = dict(((m.team, m.member), m.role) for m in Membership.objects.all())
    assert roles == {("red", 1): "member", ("red", 2): "guest", ("red", 3): "guest", ("blue", 1): "lead"}
    assert Membership.objects.filter(member=1).delete() == (2, {"Membership": 2})
    assert sorted((m.team, m.member) for m in Membership.objects.all()) == [("red", 2), ("red", 3)]


def test_audit_rows_name_the_whole_key(lab):
    _team(lab)
    Membership.objects.filter(team="blue").update(role="owner")
    Membership.objects.filter(team="blue").delete()
    trail = AuditLog.objects.filter(table_name="lab_memberships", row_id="blue,1").order_by("created_at")
    assert [row.action for row in trail] == ["create", "update", "delete"]


def test_bulk_update_writes_each_row_by_its_whole_key(lab):
    rows = _team(lab)
    for row in rows:
        row.role = f"{row.team}-{row.member}"
    assert Membership.objects.bulk_update(rows, ["role"]) == 4
    assert Membership.objects.get(team="red", member=3).role == "red-3"


def test_cursor_pages_break_ties_with_every_key_column(lab):
    _team(lab)
    first = Membership.objects.order_by("role").cursor_paginate(first=2)
    second = Membership.objects.order_by("role").cursor_paginate(first=2, after=first.next_cursor)
    seen = [(m.team, m.member) for m in [*first.items, *second.items]]
    assert sorted(seen) == sorted({("red", 1), ("red", 2), ("red", 3), ("blue", 1)})
