"""The token subject of an account by its username (the commands that act for a person)."""

from __future__ import annotations

from healthplatform.auth.repository import get_user_by_username
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.engine import create_auth_engine, create_sessionmaker


class UnknownUser(Exception):
    """No account has that username."""


async def user_subject(auth_settings: AuthSettings, username: str) -> str:
    """The ``sub`` of ``username``'s tokens, or :class:`UnknownUser`."""
    engine = create_auth_engine(auth_settings, application_name="healthplatform-demo")
    try:
        async with create_sessionmaker(engine)() as session:
            user = await get_user_by_username(session, username)
    finally:
        await engine.dispose()
    if user is None:
        raise UnknownUser(f"no account named {username!r}: sign up in the web app first")
    return str(user.id)
