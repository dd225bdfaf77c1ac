"""Sign-in, sign-out, password change, deactivation, rate limiting, cookies."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from tests.conftest import Client
from tests.factories import PASSWORD


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_signin_success_lands_home_and_is_audited(client: Client, world):
    response = client.signin(world.therapist.email)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert "Theo Therapist" in home.get_data(as_text=True)
    [event] = _events("auth:signin")
    assert event.actor_id == world.therapist.id and event.clinic_id == world.clinic.id
    assert event.ip == "127.0.0.1"


def test_wrong_password_and_unknown_email_get_the_same_message(client: Client, world):
    wrong = client.signin(world.therapist.email, "not the password at all")
    unknown = client.signin("nobody@nowhere.test", "not the password at all")
    message = "That email and password do not match an active account."
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert world.therapist.email in wrong.get_data(as_text=True)  # typed email kept
    failures = _events("auth:signin_failed")
    assert len(failures) == 2
    assert {e.details["email"] for e in failures} == {world.therapist.email, "nobody@nowhere.test"}
    assert client.get("/").status_code == 302  # still signed out


def test_email_is_case_insensitive(client: Client, world):
    assert client.signin(world.owner.email.upper()).status_code == 302


def test_deactivated_user_cannot_sign_in_and_is_signed_out(app, world, login_as):
    c = login_as("therapist")
    assert c.get("/patients/").status_code == 200
    user = db.session.get(User, world.therapist.id)
    user.active = False
    db.session.commit()
    assert c.get("/patients/").status_code == 302  # the live session ends too
    fresh = Client(app.test_client())
    response = fresh.signin(world.therapist.email)
    assert "do not match an active account" in response.get_data(as_text=True)


def test_signout_requires_post_with_csrf_and_ends_session(login_as):
    c = login_as("owner")
    assert c.post("/signout", csrf=False).status_code == 400  # no CSRF token
    assert c.get("/").status_code == 200
    assert c.post("/signout").status_code == 302
    assert c.get("/").status_code == 302
    assert _events("auth:signout")


def test_password_change_rehashes_and_signs_out_other_sessions(app, world, login_as):
    first, second = login_as("therapist"), login_as("therapist")
    bad = first.post(
        "/account/password",
        {"current_password": "wrong", "new_password": "short", "confirm": "different"},
    )
    text = bad.get_data(as_text=True)
    assert "Use at least 12 characters." in text and "The two entries differ." in text
    new = "a much longer passphrase"
    ok = first.post(
        "/account/password", {"current_password": PASSWORD, "new_password": new, "confirm": new}
    )
    assert ok.status_code == 302
    assert first.get("/").status_code == 200  # this session stays
    assert second.get("/").status_code == 302  # the other one is signed out
    user = db.session.get(User, world.therapist.id)
    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert Client(app.test_client()).signin(world.therapist.email, new).status_code == 302
    assert _events("auth:password_change")


def test_temporary_password_must_be_changed_first(app, world):
    user = db.session.get(User, world.desk.id)
    user.must_change_password = True
    db.session.commit()
    c = Client(app.test_client())
    response = c.signin(world.desk.email)
    assert response.headers["Location"] == "/account/password"
    assert c.get("/patients/").headers["Location"] == "/account/password"


def test_open_redirect_after_signin_is_refused(client: Client, world):
    response = client.post(
        "/signin?next=//evil.example/x", {"email": world.owner.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_signin_is_rate_limited(client: Client, world):
    codes = [client.signin(world.owner.email, "wrong password!!").status_code for _ in range(11)]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429
    assert "Too many attempts" in client.signin(world.owner.email).get_data(as_text=True)


def test_session_cookie_is_httponly_samesite_and_secure_by_default(database_url, tmp_path, world):
    from app import create_app
    from tests.conftest import base_config

    config = base_config(database_url, tmp_path)
    del config["SESSION_COOKIE_SECURE"]
    app = create_app(config)
    c = Client(app.test_client())
    response = c.post("/signin", {"email": world.owner.email, "password": PASSWORD})
    with app.app_context():
        db.engine.dispose()
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_security_headers(client: Client):
    response = client.get("/signin")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_health_endpoint_checks_database(client: Client):
    assert client.get("/health").get_json() == {"status": "ok"}
