"""No serialization path pydantic or FastAPI takes shows a secret field; read schemas are public."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from assistant_models.core.base import AssistantModel
from assistant_models.models import ApiKey, AuthSession, User
from assistant_models.schemas import ApiKeyRead, AuthSessionRead, UserRead, read_schema

SECRET = "never-show-this-secret"


def models_with_secrets() -> list[type[AssistantModel]]:
    found, stack = [], list(AssistantModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__secret_fields__ and cls.__module__.startswith("assistant_models."):
            found.append(cls)
    return found


def test_the_identity_models_are_the_ones_with_secrets():
    assert {m.__name__ for m in models_with_secrets()} == {"User", "ApiKey", "AuthSession"}


def user() -> User:
    return User(email="reader@example.com", username="reader", password_hash=SECRET)


def key() -> ApiKey:
    return ApiKey(name="ci", key_prefix="am_abcd", key_hash=SECRET, user_id=user().id)


def session() -> AuthSession:
    return AuthSession(user_id=user().id, token_hash=SECRET, expires_at="2030-01-01T00:00:00Z")


INSTANCES = [
    pytest.param(user, id="User"),
    pytest.param(key, id="ApiKey"),
    pytest.param(session, id="AuthSession"),
]


@pytest.mark.parametrize("make", INSTANCES)
def test_pydantic_dumps_leave_secrets_out(make):
    obj = make()
    model = type(obj)

    class Envelope(BaseModel):
        item: model  # type: ignore[valid-type]
        items: list[model]  # type: ignore[valid-type]

    dumps = [
        json.dumps(obj.model_dump(mode="json")),
        obj.model_dump_json(),
        json.dumps(TypeAdapter(model).dump_python(obj, mode="json")),
        TypeAdapter(model).dump_json(obj).decode(),
        Envelope(item=obj, items=[obj]).model_dump_json(),
        repr(obj),
        str(dict(obj)),
    ]
    for dumped in dumps:
        assert SECRET not in dumped
    for name in model.__secret_fields__:
        assert name not in obj.model_dump()
        assert getattr(obj, name) == SECRET  # the attribute itself is still there for the code that checks it


def test_fastapi_responses_and_openapi_show_no_secret():
    app = FastAPI()

    @app.get("/user", response_model=User)
    def as_model() -> User:
        return user()

    @app.get("/user/read", response_model=UserRead)
    def as_read_schema() -> User:
        return user()

    @app.get("/key")
    def unannotated() -> ApiKey:
        return key()

    @app.get("/session", response_model=AuthSessionRead)
    def login() -> AuthSession:
        return session()

    client = TestClient(app)
    for path in ("/user", "/user/read", "/key", "/session"):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
        assert "_hash" not in response.text
    assert client.get("/user/read").json()["email"] == "reader@example.com"
    schema = json.dumps(app.openapi())
    for name in ("password_hash", "key_hash", "token_hash"):
        assert name not in schema


def test_read_schemas_list_every_public_field_and_no_secret():
    for model, schema in ((User, UserRead), (ApiKey, ApiKeyRead), (AuthSession, AuthSessionRead)):
        assert schema.__name__ == f"{model.__name__}Read"
        assert set(schema.model_fields) == set(model.model_fields) - model.__secret_fields__
        assert read_schema(model) is schema


def test_a_read_schema_reads_an_instance_and_dumps_json():
    read = UserRead.model_validate(user())
    dumped = read.model_dump(mode="json")
    assert dumped["username"] == "reader" and "password_hash" not in dumped
    assert TypeAdapter(UserRead).json_schema(mode="serialization")["title"] == "UserRead"
