"""lmsctl webhooks, end to end: add, list, test, deliveries, replay, disable, enable."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import ok, ok_json, refused, refused_json, usage_error
from tests.conftest import Cli
from tests.webhooks.conftest import SECRET, Receiver


def test_user_created_by_cli_reaches_the_receiver_signed(
    hook_cli: Cli, receiver: Receiver, secret_file: Path
) -> None:
    added = ok_json(
        hook_cli(
            "webhooks",
            "add",
            receiver.url,
            "--events",
            "user.created",
            "--secret-file",
            str(secret_file),
            "--json",
        )
    )
    assert added["events"] == "user.created" and added["enabled"] is True
    assert SECRET not in json.dumps(added)
    ok(hook_cli("users", "create", "grace@school.example", "--name", "Grace Hopper"))
    assert receiver.requests == []
    ok(hook_cli("jobs", "run-due"))
    [got] = receiver.requests
    assert got.signature_valid()
    assert got.json["type"] == "user.created"
    assert got.json["data"]["email"] == "grace@school.example"
    listed = ok_json(hook_cli("webhooks", "deliveries", "--status", "succeeded", "--json"))
    assert [(d["id"], d["last_status_code"]) for d in listed] == [(got.json["id"], 200)]
    ok(hook_cli("jobs", "run-due"))
    assert len(receiver.requests) == 1


def test_list_test_disable_enable(hook_cli: Cli, receiver: Receiver, secret_file: Path) -> None:
    ok(hook_cli("webhooks", "add", receiver.url, "--all", "--secret-file", str(secret_file)))
    listed = hook_cli("webhooks", "list")
    ok(listed)
    assert receiver.url in listed.stdout and SECRET not in listed.stdout
    [row] = ok_json(hook_cli("webhooks", "list", "--json"))
    hook = str(row["id"])
    tested = ok(hook_cli("webhooks", "test", hook))
    assert f"endpoint {hook}: HTTP 200 in " in tested.stdout
    [got] = receiver.requests
    assert got.json["type"] == "webhook.test" and got.signature_valid()
    receiver.status = 500
    line = refused(hook_cli("webhooks", "test", hook), "url")
    assert "HTTP 500" in line
    ok(hook_cli("webhooks", "disable", hook))
    [row] = ok_json(hook_cli("webhooks", "list", "--json"))
    assert row["enabled"] is False and "disabled by" in row["disabled_reason"]
    ok(hook_cli("users", "create", "x@school.example", "--name", "X"))
    assert ok_json(hook_cli("webhooks", "deliveries", "--status", "pending", "--json")) == []
    ok(hook_cli("webhooks", "enable", hook))
    [row] = ok_json(hook_cli("webhooks", "list", "--json"))
    assert row["enabled"] is True and row["disabled_reason"] is None


def test_replay_by_cli(
    hook_cli: Cli, receiver: Receiver, secret_file: Path, session_factory: object
) -> None:
    args = ["webhooks", "add", receiver.url, "--all", "--secret-file", str(secret_file)]
    hook = str(ok_json(hook_cli(*args, "--json"))["id"])
    receiver.status = 500
    refused(hook_cli("webhooks", "test", hook), "url", contains="HTTP 500")
    [failed] = ok_json(hook_cli("webhooks", "deliveries", "--status", "dead", "--json"))
    receiver.status = 200
    ok(hook_cli("webhooks", "replay", failed["id"]))
    refused(hook_cli("webhooks", "replay", failed["id"]), "id", contains="pending already")
    ok(hook_cli("jobs", "run-due"))
    assert receiver.requests[-1].headers["Webhook-Id"] == failed["id"]
    [done] = ok_json(hook_cli("webhooks", "deliveries", "--json"))
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    dry = hook_cli("webhooks", "replay", "--endpoint", hook, "--since", "2000-01-01", "--dry-run")
    assert "would queue 0 delivery(ies)" in ok(dry).stdout


def test_bad_input_is_refused_cleanly(
    hook_cli: Cli, cli: Cli, receiver: Receiver, secret_file: Path, tmp_path: Path
) -> None:
    base = ["webhooks", "add", receiver.url, "--secret-file", str(secret_file)]
    usage_error(hook_cli(*base), "give --events a,b or --all")
    usage_error(hook_cli(*base, "--events", "a,b", "--all"), "one of them")
    error = refused_json(hook_cli(*base, "--events", "user.made", "--json"), "events")
    assert "unknown event type(s) user.made" in error["message"]
    refused(cli(*base, "--all"), "url", contains="loopback")
    short = tmp_path / "short.secret"
    short.write_text("tiny\n", encoding="utf-8")
    refused(
        hook_cli("webhooks", "add", receiver.url, "--all", "--secret-file", str(short)), "secret"
    )
    missing = str(tmp_path / "missing.secret")
    refused(
        hook_cli("webhooks", "add", receiver.url, "--all", "--secret-file", missing), "secret_file"
    )
    refused(hook_cli("webhooks", "test", "99"), "id", contains="no webhook endpoint #99")
    refused(hook_cli("webhooks", "replay", "nope"), "id", contains="no webhook delivery")
    usage_error(hook_cli("webhooks", "replay"), "give DELIVERY_ID, or --endpoint ID --since T")
    refused(hook_cli("webhooks", "replay", "--endpoint", "1", "--since", "yesterday"), "since")
    refused(hook_cli("webhooks", "deliveries", "--status", "lost"), "status")
    assert ok_json(hook_cli("webhooks", "list", "--json")) == []
