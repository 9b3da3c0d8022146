from assistant_models.models import Task, TaskStatus


def test_enqueued_task_is_pending_and_visible(db_session):
    task = Task.objects.enqueue("hello")
    assert task.status is TaskStatus.PENDING
    assert Task.objects.filter(title="hello").count() == 1
