"""The SSRF guard: private, loopback and link-local targets are refused, no connection made."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from lms_core.errors import ValidationError
from lms_core.settings import Settings
from lms_core.webhooks import http
from lms_core.webhooks.endpoints import check_target
from tests.webhooks.conftest import Receiver, hook_settings
from tests.webhooks.helpers import Factory, add, deliveries, drain, new_user

FORBIDDEN = [
    ("http://127.0.0.1:9/x", "loopback"),
    ("http://10.1.2.3/x", "private"),
    ("http://192.168.0.10/x", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]:8080/x", "loopback"),
    ("http://[fe80::1]/x", "link-local"),
    ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ("http://0.0.0.0/x", "unspecified"),
    ("http://224.0.0.1/x", "multicast"),
]


@pytest.mark.parametrize(("url", "kind"), FORBIDDEN)
def test_private_targets_refused_without_the_setting(
    url: str, kind: str, settings: Settings
) -> None:
    with pytest.raises(http.Refused, match=kind):
        http.post(url, b"{}", {}, allow_private=False)
    with pytest.raises(ValidationError, match="LMS_WEBHOOKS_ALLOW_PRIVATE=1"):
        check_target(url, settings)


def test_public_addresses_pass_the_check() -> None:
    for text in ("93.184.216.34", "2606:4700::1111", "8.8.8.8"):
        assert http.forbidden_reason(ipaddress.ip_address(text)) is None


def test_bad_urls_are_refused(settings: Settings) -> None:
    for url, message in (
        ("ftp://example.org/", "http:// or https://"),
        ("http:///path", "no host"),
        ("http://user:pw@example.org/", "user or password"),
        ("http://example.org:99999/", "not a valid URL"),
    ):
        with pytest.raises(ValidationError, match=message):
            check_target(url, settings)


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    session_factory: Factory, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    """``localhost`` passes ``add`` (a name) but is resolved and refused when sending: the
    receiver sees no connection at all."""
    guarded = hook_settings(settings, tmp_path, webhooks_allow_private=False)
    add(session_factory, guarded, f"http://localhost:{receiver.port}/hooks")
    new_user(session_factory)
    [outcome] = drain(session_factory, guarded)
    assert outcome.status == "failed"
    [delivery] = deliveries(session_factory)
    assert delivery.last_status_code is None
    assert "refused localhost" in (delivery.response_excerpt or "")
    assert "loopback" in (delivery.response_excerpt or "")
    assert receiver.requests == []
    allowed = hook_settings(settings, tmp_path)
    drain(session_factory, allowed)
    assert len(receiver.requests) == 1 and receiver.requests[0].signature_valid()
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.port}"


def test_refused_before_any_connection(receiver: Receiver) -> None:
    for url in (receiver.url, f"http://[::1]:{receiver.port}/hooks"):
        with pytest.raises(http.Refused, match="loopback"):
            http.post(url, b"{}", {}, allow_private=False)
    assert receiver.requests == []
    assert http.post(receiver.url, b"{}", {}, allow_private=True).status_code == 200
