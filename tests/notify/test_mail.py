"""Mail through a real SMTP server: recipients, both parts, language, STARTTLS + AUTH, refusals."""

from __future__ import annotations

from datetime import timedelta

from crmflow.notifications import delivery_log, retry_failed, send_due


def _mail(port: int, **extra: object) -> dict[str, object]:
    return {"mail": {"host": "127.0.0.1", "port": port, "sender": "crmflow@plant.example",
                     "timeout": 5, **extra}}  # fmt: skip


def test_each_person_gets_one_mail_with_a_text_and_an_html_part_in_their_language(
    notify_engine, smtp, clock
):
    box, port = smtp
    engine = notify_engine(notify={**_mail(port), "base_url": "https://crm.plant.example"})
    iid = engine.start("ticket", data={"to": ["planning", "manager"], "number": "T-9"})
    engine.fire(iid, "late", actor="system")

    # paul (zh-CN), mia, max have addresses; petra has none: her inbox only
    assert sorted(rcpts[0] for rcpts, _ in box.received) == [
        "max@example.com", "mia@example.com", "paul@example.com",
    ]  # fmt: skip
    by_rcpt = {rcpts[0]: msg for rcpts, msg in box.received}
    mia = by_rcpt["mia@example.com"]
    assert mia["Subject"] == "Ticket T-9 is late in open"
    assert mia["From"] == "crmflow@plant.example" and mia["Content-Language"] == "en"
    text = mia.get_body(("plain",)).get_content()
    html = mia.get_body(("html",)).get_content()
    assert "https://crm.plant.example/tickets/T-9" in text
    assert '<a href="https://crm.plant.example/tickets/T-9">Open</a>' in html
    paul = by_rcpt["paul@example.com"]
    assert paul["Subject"] == "Ticket T-9 在「open」环节已超时"
    assert paul["Content-Language"] == "zh-CN" and "打开" in paul.get_body(("html",)).get_content()
    mails = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert {(d["to"], d["status"]) for d in mails} == {
        ("paul", "sent"), ("mia", "sent"), ("max", "sent"),
    }  # fmt: skip


def test_workflow_text_is_escaped_in_the_html_part(notify_engine, smtp, ping):
    box, port = smtp
    engine = notify_engine(notify=_mail(port))
    ping(engine, "mia", number="<script>x</script>")
    html = box.received[0][1].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_starttls_and_login_when_configured(notify_engine, smtp_tls, ping, monkeypatch):
    box, port, cafile = smtp_tls
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    engine = notify_engine(notify=_mail(port, starttls=True, login="crmflow",
                                        password_env="SMTP_PASSWORD", cafile=str(cafile)))
    ping(engine, "mia")
    assert box.logins == ["crmflow"] and box.tls_sessions == [True]
    assert [rcpts for rcpts, _ in box.received] == [["mia@example.com"]]


def test_a_wrong_password_fails_at_once_and_is_not_retried(
    notify_engine, smtp_tls, ping, monkeypatch, clock
):
    box, port, cafile = smtp_tls
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    engine = notify_engine(notify=_mail(port, starttls=True, login="crmflow",
                                        password_env="SMTP_PASSWORD", cafile=str(cafile)))
    ping(engine, "mia")
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "failed" and "refused the login: 535" in mail["error"]
    assert mail["attempts"] == 1
    clock.advance(hours=1)
    assert send_due(engine) == {"sent": 0, "retrying": 0, "failed": 0}


def test_login_without_tls_is_refused_as_a_configuration_error(
    notify_engine, smtp, ping, monkeypatch
):
    box, port = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    engine = notify_engine(notify=_mail(port, login="crmflow", password_env="SMTP_PASSWORD"))
    ping(engine, "mia")
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "failed" and "unencrypted" in mail["error"]
    assert box.received == []


def test_a_rejected_address_fails_at_once(notify_engine, smtp, ping):
    box, port = smtp
    box.rcpt_reply = "550 5.1.1 mailbox unavailable"
    engine = notify_engine(notify=_mail(port))
    ping(engine, "mia")
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "failed" and "550" in mail["error"] and mail["attempts"] == 1


def test_a_server_that_refuses_for_now_is_retried_five_times_then_fails(
    notify_engine, smtp, ping, clock
):
    box, port = smtp
    box.rcpt_reply = "451 4.3.0 try again later"
    engine = notify_engine(notify=_mail(port))
    ping(engine, "mia")
    for attempt in range(2, 6):
        [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
        assert (mail["status"], mail["attempts"]) == ("pending", attempt - 1)
        assert send_due(engine)["sent"] == 0  # not due yet: the backoff holds it
        clock.advance(timedelta(seconds=5 * 2 ** (attempt - 2)))
        assert send_due(engine) == {"sent": 0, "retrying": int(attempt < 5),
                                    "failed": int(attempt == 5)}  # fmt: skip
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "failed" and mail["error"].startswith("gave up after 5 attempts")
    # the inbox copy is untouched by the failing mail
    assert [d["status"] for d in delivery_log(engine) if d["channel"] == "inapp"] == ["sent"]

    box.rcpt_reply = None  # the server is back: the operator retries
    assert retry_failed(engine) == [mail["id"]]
    assert send_due(engine) == {"sent": 1, "retrying": 0, "failed": 0}
    assert len(box.received) == 1


def test_an_unreachable_server_is_retried_not_failed(notify_engine, ping):
    from .standins import free_port

    engine = notify_engine(notify=_mail(free_port()))
    ping(engine, "mia")
    [mail] = [d for d in delivery_log(engine) if d["channel"] == "mail"]
    assert mail["status"] == "pending" and "127.0.0.1" in mail["error"]
