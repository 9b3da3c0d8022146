"""Type-checked (``mypy --strict`` in CI), never run: factories as an application's tests use them."""

from assistant_models.models import ChatSession, Task, User
from assistant_models.testing.chat_factories import ChatSessionFactory
from assistant_models.testing.factories import TaskFactory, UserFactory


def typed_calls() -> None:
    user: User = UserFactory()
    assert user.id is not None and user.email
    task: Task = TaskFactory(title="x", assignee=user)
    assert task.title == "x"
    chat: ChatSession = ChatSessionFactory(user=user)
    assert chat.id is not None
    users: list[User] = UserFactory.create_batch(3)
    draft: User = UserFactory.build()
    assert users[0].username != draft.username
