"""Identity: users, API keys and login sessions."""

from assistant_models.models.identity.api_keys import ApiKey, ApiKeyManager
from assistant_models.models.identity.auth_sessions import AuthSession, AuthSessionManager
from assistant_models.models.identity.users import User, UserManager, UserRole

__all__ = ["ApiKey", "ApiKeyManager", "AuthSession", "AuthSessionManager", "User", "UserManager", "UserRole"]
