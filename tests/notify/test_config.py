"""The factory's `notify:` section is checked where it is written."""

from __future__ import annotations

import pytest

from crmflow.core.factory import load_factory
from crmflow.errors import ValidationError


def _problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_factory(path)
    return [str(p) for p in caught.value.problems]


def test_a_webhook_written_into_yaml_is_refused_at_its_line(tmp_path):
    problems = _problems(tmp_path, (
        "factory: plant\n"
        "notify:\n"
        "  dingtalk: {webhook_env: \"https://oapi.dingtalk.com/robot/send?access_token=x\"}\n"
        "  mail: {host: smtp, passwrd: x}\n"
        "  pager: {}\n"
    ))  # fmt: skip
    path = str(tmp_path / "plant.yaml")
    assert problems == [
        f"{path}:3:27: error: notify.dingtalk.webhook_env names an ENVIRONMENT_VARIABLE "
        "(the value never goes in YAML)",
        f"{path}:4:22: error: unknown notify.mail key 'passwrd'; allowed: host, port, sender, "
        "login, password_env, starttls, ssl, cafile, timeout",
        f"{path}:5:3: error: unknown notify key 'pager'; allowed: mail, wecom, dingtalk, "
        "feishu, base_url, language, templates, digest, quiet_hours",
    ]


def test_a_good_notify_section_loads(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text("notify:\n  mail: {host: smtp.example, sender: a@example.com, "
                    "starttls: true, login: a, password_env: SMTP_PASSWORD}\n"
                    "  feishu: {webhook_env: FEISHU_HOOK, secret_env: FEISHU_SECRET}\n")
    config = load_factory(path)
    assert config.notify["feishu"] == {"webhook_env": "FEISHU_HOOK", "secret_env": "FEISHU_SECRET"}
