"""SMTP settings: read from the environment and a password file; the standard ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms_core.mail.smtp import mail_from, smtp_config
from lms_core.settings import Settings, SettingsError, SmtpSecurity, load_settings


def test_settings_come_from_the_environment_and_the_password_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp_pw"
    secret.write_text("  from-the-file\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "LMS_SMTP_HOST": "smtp.school.example",
        "LMS_SMTP_SECURITY": "tls",
        "LMS_SMTP_USER": "lms",
        "LMS_SMTP_PASSWORD": "from-the-environment",
        "LMS_SMTP_PASSWORD_FILE": str(secret),
        "LMS_MAIL_FROM": "School <lms@school.example>",
    }.items():
        monkeypatch.setenv(name, value)
    config = smtp_config(load_settings())
    assert config is not None
    assert (config.host, config.port, config.security) == ("smtp.school.example", 465, "tls")
    assert (config.user, config.password) == ("lms", "from-the-file")  # the file wins
    assert config.sender == "School <lms@school.example>"
    assert config.describe() == "smtp.school.example:465 (tls, login lms)"


def test_an_unreadable_password_file_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="smtp_password_file: cannot read"):
        load_settings(smtp_password_file=tmp_path / "missing")


def test_defaults_mail_is_off_ports_follow_security() -> None:
    settings = Settings(public_base_url="https://lms.school.example/")
    assert smtp_config(settings) is None
    assert smtp_config(settings.model_copy(update={"smtp_host": "  "})) is None
    assert mail_from(settings) == "no-reply@lms.school.example"
    for security, port in ((SmtpSecurity.none, 25), (SmtpSecurity.starttls, 587)):
        on = settings.model_copy(update={"smtp_host": "mx", "smtp_security": security})
        config = smtp_config(on)
        assert config is not None and config.port == port and config.user is None
