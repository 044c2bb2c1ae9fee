"""Sign-in: anonymous, wrong password, throttling, expired session, CSRF, cross-site, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmflow.core.people.accounts import add_user, create_token, disable_user, revoke_token

from .pages import PASSWORD, csrf_of, sign_in


@pytest.mark.parametrize("path", ["/", "/instances/1", "/orders/SO-000153", "/kpi/", "/metrics"])
def test_anonymous_pages_redirect_to_login_with_next(web, path):
    answer = web.get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_anonymous_api_answers_401_json_but_openapi_and_health_are_open(web):
    answer = web.get("/api/me")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"
    assert web.get("/api/openapi.json").status_code == 200
    assert web.get("/healthz").get_json() == {"status": "ok", "db": "ok"}


def test_wrong_password_shows_the_form_without_saying_which_field(web, demo_engine):
    add_user(demo_engine, "rita", PASSWORD)
    token = csrf_of(web.get("/login").get_data(as_text=True))
    answer = web.post("/login", data={"username": "rita", "password": "nope-nope",
                                      "csrf_token": token})  # fmt: skip
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Wrong username or password." in html
    unknown = web.post("/login", data={"username": "nobody", "password": "nope-nope",
                                       "csrf_token": token})  # fmt: skip
    assert "Wrong username or password." in unknown.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_good_login_goes_to_next_only_inside_the_app(demo_app, demo_engine):
    add_user(demo_engine, "rita", PASSWORD)

    def login(next_url: str) -> str:
        client = demo_app.test_client()  # a fresh browser: a login replaces the session
        token = csrf_of(client.get("/login").get_data(as_text=True))
        form = {"username": "rita", "password": PASSWORD, "csrf_token": token, "next": next_url}
        return str(client.post("/login", data=form).headers["Location"])

    assert login("/kpi/?from=2026-01-01") == "/kpi/?from=2026-01-01"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        assert login(evil) == "/"


def test_ten_failures_in_a_minute_lock_the_username_until_the_minute_passes(
    web, demo_engine, web_clock
):
    add_user(demo_engine, "sam", PASSWORD)
    token = csrf_of(web.get("/login").get_data(as_text=True))
    for _ in range(10):
        web.post("/login", data={"username": "sam", "password": "wrong-one", "csrf_token": token})
    right = {"username": "sam", "password": PASSWORD, "csrf_token": token}
    assert web.post("/login", data=right).status_code == 429
    web_clock.now += timedelta(seconds=61)
    assert web.post("/login", data=right).status_code == 302


def test_session_expires_after_its_lifetime(web, demo_engine, web_clock):
    sign_in(web, demo_engine, "rita")
    assert web.get("/").status_code == 200
    web_clock.now += timedelta(hours=13)
    answer = web.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_logout_ends_the_session(web, demo_engine):
    token = sign_in(web, demo_engine, "rita")
    assert web.post("/logout", data={"csrf_token": token}).status_code == 302
    assert web.get("/").status_code == 302


def _open_demand_review(engine):
    return next(i for i in engine.list(workflow="demand_change") if i.state == "planner_review")


def test_missing_csrf_and_cross_site_posts_are_refused_and_change_nothing(web, demo_engine):
    token = sign_in(web, demo_engine, "paul")
    inst = _open_demand_review(demo_engine)
    assert web.post(f"/instances/{inst.id}", data={"trigger": "reject"}).status_code == 400
    cross = web.post(f"/instances/{inst.id}", data={"trigger": "reject", "csrf_token": token},
                     headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 400
    api = web.post(f"/api/instances/{inst.id}/fire", json={"trigger": "reject"})
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "csrf"
    assert demo_engine.get(inst.id).state == "planner_review"
    ok = web.post(f"/api/instances/{inst.id}/fire", json={"trigger": "reject"},
                  headers={"X-CSRFToken": token})  # fmt: skip
    assert ok.status_code == 200 and ok.get_json() == {"taken": True, "state": "rejected"}


def test_tokens_authenticate_until_revoked_or_disabled(web, demo_engine):
    add_user(demo_engine, "mia", PASSWORD)
    tid, secret = create_token(demo_engine, "mia", "phone")
    bearer = {"Authorization": f"Bearer {secret}"}
    me = web.get("/api/me", headers=bearer).get_json()
    assert me["username"] == "mia" and "manager" in me["roles"]
    assert web.get("/api/me").status_code == 401  # a token never starts a browser session
    sign_in(web, demo_engine, "rita")
    assert web.get("/api/me", headers=bearer).get_json()["username"] == "mia"
    assert web.get("/api/me").get_json()["username"] == "rita"  # nor ends or changes one
    assert web.get("/metrics", headers=bearer).status_code == 200
    revoke_token(demo_engine, tid)
    assert web.get("/api/me", headers=bearer).status_code == 401
    _, other = create_token(demo_engine, "mia")
    disable_user(demo_engine, "mia")
    assert web.get("/api/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_security_headers_and_cookie_flags(web, demo_engine):
    add_user(demo_engine, "rita", PASSWORD)
    page = web.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"]
    answer = web.post("/login", data={"username": "rita", "password": PASSWORD,
                                      "csrf_token": csrf_of(page.get_data(as_text=True))})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
