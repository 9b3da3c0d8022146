"""SQL expressions as field values, and writes through annotated QuerySets (Django's semantics)."""

import pytest
from lab_models import Author, Book, Membership, Note

from assistant_models import Concat, Count, F, FieldError, Lower, Max, Upper, ValidationError, Value
from assistant_models.models import AuditLog, Task

pytestmark = pytest.mark.integration


@pytest.fixture
def shelf(lab):
    ann = Author.objects.create(name="Ann", age=30)
    bob = Author.objects.create(name="Bob", age=40)
    cyd = Author.objects.create(name="Cyd", age=50)
    Book.objects.bulk_create(
        [
            Book(title="Alpha", rating=4.5, author_id=ann.id),
            Book(title="Beta", rating=3.0, author_id=ann.id),
            Book(title="Gamma", rating=4.0, author_id=bob.id),
        ]
    )
    return {"ann": ann, "bob": bob, "cyd": cyd}


# ------------------------------------------------------------------ inserts


def test_create_stores_what_the_expression_computes_and_the_instance_reads_it(lab):
    author = Author.objects.create(name=Lower(Value("ANN")), age=3)
    assert author.name == "ann"
    assert Author.objects.get(pk=author.id).name == "ann"


def test_a_plain_value_beside_an_expression_is_still_validated(lab):
    with pytest.raises(ValidationError) as caught:
        Author(name=Upper(Value("x")), alias="a" * 101)
    assert [e["field"] for e in caught.value.errors] == ["alias"]


def test_a_required_field_missing_beside_an_expression_is_refused(lab):
    with pytest.raises(ValidationError) as caught:
        Book(pages=Value(3) + 1)
    assert [e["field"] for e in caught.value.errors] == ["title"]


def test_defaults_are_filled_beside_an_expression(lab):
    book = Book(title=Lower(Value("T")))
    assert (book.pages, book.rating) == (0, None)


@pytest.mark.parametrize("write", ["create", "bulk_create"])
def test_an_insert_cannot_refer_to_a_column(lab, write):
    with pytest.raises(ValidationError, match="only be used to update"):
        if write == "create":
            Author.objects.create(name="x", age=F("age") + 1)
        else:
            Author.objects.bulk_create([Author(name="x", age=F("age") + 1)])
    assert Author.objects.count() == 0


def test_an_insert_cannot_hold_an_aggregate(lab):
    with pytest.raises(FieldError, match="aggregate"):
        Author.objects.create(name="x", age=Max("age"))


def test_bulk_create_with_client_made_keys_inserts_rows_holding_expressions(lab, statements):
    notes = Note.objects.bulk_create([Note(text="plain"), Note(text=Lower(Value("SHOUT")))])
    assert [n.text for n in notes] == ["plain", "shout"]
    assert sorted(Note.objects.values_list("text", flat=True)) == ["plain", "shout"]
    assert any(s.startswith("INSERT INTO lab_notes") for s in statements)


def test_bulk_create_of_plain_values_with_client_made_keys_still_uses_copy(lab, record_sql):
    with record_sql() as sent:  # COPY goes to the driver directly: no INSERT is seen
        Note.objects.bulk_create([Note(text="a"), Note(text="b")])
    assert not any(s.startswith("INSERT INTO lab_notes") for s in sent)
    assert Note.objects.count() == 2


def test_bulk_create_of_an_audited_model_records_the_computed_value(lab):
    Membership.objects.bulk_create([Membership(team="t", member=1, role=Upper(Value("lead")))])
    (log,) = AuditLog.objects.filter(table_name="lab_memberships")
    assert log.changes["after"]["role"] == "LEAD"


# ------------------------------------------------------------------ updates of one row


def test_save_computes_from_the_row_as_it_is_in_the_database(shelf):
    ann = shelf["ann"]
    Author.objects.filter(pk=ann.id).update(age=35)  # the instance in hand still reads 30
    ann.age = F("age") + 1
    ann.save()
    assert ann.age == 36


def test_save_of_an_expression_over_a_relation_is_refused(shelf):
    book = Book.objects.get(title="Alpha")
    book.title = F("author__name")
    with pytest.raises(FieldError, match="joined field references"):
        book.save()


def test_update_or_create_takes_expressions_in_defaults(shelf):
    author, created = Author.objects.update_or_create(name="Ann", defaults={"age": F("age") * 2})
    assert (created, author.age) == (False, 60)


def test_save_of_an_audited_row_records_the_computed_value(lab):
    member = Membership.objects.create(team="t", member=1, role="lead")
    member.role = Concat(F("role"), Value("!"))
    member.save()
    assert member.role == "lead!"
    logs = AuditLog.objects.filter(table_name="lab_memberships", action="update")
    assert [log.changes["fields"]["role"] for log in logs] == [{"before": "lead", "after": "lead!"}]


def test_bulk_update_refuses_expressions(shelf):
    ann = shelf["ann"]
    ann.age = F("age") + 1
    with pytest.raises(ValidationError, match="update"):
        Author.objects.bulk_update([ann], ["age"])


# ------------------------------------------------------------------ updates of annotated QuerySets


def test_update_reads_a_plain_annotation(shelf):
    assert Author.objects.annotate(older=F("age") + 1).update(age=F("older")) == 3
    assert sorted(Author.objects.values_list("age", flat=True)) == [31, 41, 51]


def test_update_refuses_an_aggregate_annotation(shelf):
    with pytest.raises(FieldError, match="aggregate"):
        Author.objects.annotate(n=Count("books")).update(age=F("n"))


def test_update_of_a_queryset_filtered_on_an_aggregate_names_rows_by_key(shelf):
    qs = Author.objects.annotate(n=Count("books")).filter(n__gte=1)
    assert qs.update(age=0) == 2
    assert sorted(Author.objects.filter(age=0).values_list("name", flat=True)) == ["Ann", "Bob"]


def test_delete_of_a_queryset_filtered_on_an_aggregate(shelf):
    Author.objects.annotate(n=Count("books")).filter(n=0).delete()
    assert sorted(Author.objects.values_list("name", flat=True)) == ["Ann", "Bob"]


def test_create_of_an_audited_row_records_the_computed_value(lab):
    Membership.objects.create(team="t", member=2, role=Upper(Value("lead")))
    (log,) = AuditLog.objects.filter(table_name="lab_memberships", action="create")
    assert log.changes["after"]["role"] == "LEAD"


def test_expressions_are_written_through_the_async_twin_too(api):
    task = api(Task.objects, "create", title=Lower(Value("ABC")))
    (made,) = api(Task.objects, "bulk_create", [Task(title=Lower(Value("DEF")))])
    assert (task.title, made.title) == ("abc", "def")
    doubled = Task.objects.filter(pk=task.id).annotate(twice=F("priority") * 2)
    assert api(doubled, "update", priority=F("twice")) == 1
