import pytest

from bot.core.errors import Invalid
from bot.platform.models import StaffSession
from bot.staff import auth


def test_password_login_and_expiring_sessions(db) -> None:
    user = auth.add_user("Ann@Example.com", "correct horse", "admin")
    assert user.email == "ann@example.com" and user.password_hash.startswith("$argon2")
    assert auth.authenticate("ann@example.com", "wrong password") is None
    assert auth.authenticate("nobody@example.com", "correct horse") is None
    assert auth.authenticate("ANN@example.com", "correct horse").id == user.id
    token = auth.start_session(user)
    assert auth.session_user(token).id == user.id
    assert not StaffSession.select().where(StaffSession.token_hash == token).exists()  # only the hash is kept
    StaffSession.update(expires_at=0).execute()
    assert auth.session_user(token) is None


def test_user_validation_names_fields(db) -> None:
    with pytest.raises(Invalid) as error:
        auth.add_user("not-an-email", "long enough", "agent")
    assert error.value.field == "email"
    with pytest.raises(Invalid) as error:
        auth.add_user("a@b.c", "short", "agent")
    assert error.value.field == "password"
    with pytest.raises(Invalid) as error:
        auth.add_user("a@b.c", "long enough", "owner")
    assert error.value.field == "role"
    auth.add_user("a@b.c", "long enough")
    with pytest.raises(Invalid):
        auth.add_user("A@b.c", "long enough")


def test_api_tokens_are_hashed_and_tied_to_user(db) -> None:
    user = auth.add_user("bot@example.com", "long enough", "agent")
    token = auth.create_api_token("bot@example.com", "crm")
    assert token.startswith("sd_")
    assert auth.token_user(token).id == user.id
    assert auth.token_user(token + "x") is None
    assert auth.token_user(None) is None
