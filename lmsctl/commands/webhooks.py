"""lmsctl webhooks: endpoints that receive signed domain events, their delivery log, replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from lmsctl.options import DryRunOpt, JsonlOpt, JsonOpt, ListJsonOpt, PageOpt, PerPageOpt, group
from lmsctl.output import emit_query, emit_record, listing_format, report_change, say
from lmsctl.runtime import acting, runtime

app = group("Webhook endpoints: add, list, test, deliveries, replay, disable, enable.")

IdArg = Annotated[
    int, typer.Argument(help="The endpoint's number (see webhooks list).", show_default=False)
]
ENDPOINT_COLUMNS = ("id", "url", "events", "enabled", "consecutive_failures", "disabled_reason")
DELIVERY_COLUMNS = (
    "id",
    "endpoint_id",
    "event_id",
    "status",
    "attempts",
    "last_status_code",
    "last_duration_ms",
    "next_attempt_at",
    "response_excerpt",
)


def _read_secret(path: Path) -> str:
    from lms_core.errors import ValidationError

    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"cannot read {path}: {exc}", field="secret_file", value=str(path)
        ) from None


def _since(text: str) -> datetime:
    from lms_core.errors import ValidationError

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            "must be an ISO date or time, e.g. 2026-12-06 or 2026-12-06T08:00",
            field="since",
            value=text,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
    secret_file: Annotated[
        Path,
        typer.Option(
            "--secret-file", help="A file holding the signing secret (16+ characters).", metavar="F"
        ),
    ],
    events: Annotated[
        str | None, typer.Option("--events", help="Event types, comma-separated.")
    ] = None,
    all_events: Annotated[bool, typer.Option("--all", help="Every event type.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add an endpoint that receives the events named (signed with the secret; never printed).

    Example: lmsctl webhooks add https://hooks.example.org/lms --events user.created,certificate.issued --secret-file hook.secret
    """
    from lms_core.errors import UsageError
    from lms_core.webhooks.endpoints import add_endpoint, endpoint_row
    from lmsctl.output import reporting

    with reporting(as_json=json_out):
        if all_events == (events is not None):
            raise UsageError("give --events a,b or --all (one of them)", field="events")
        secret = _read_secret(secret_file)
    chosen = ["*"] if all_events else (events or "").split(",")
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        endpoint = add_endpoint(
            session, rt.get_settings(), actor=actor, url=url, events=chosen, secret=secret
        )
        row = endpoint_row(endpoint)
    report_change(f"webhook endpoint {row['id']} added: {row['url']}", row, as_json=json_out)


@app.command("list")
def list_(
    ctx: typer.Context,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List the endpoints (never their secrets).

    Example: lmsctl webhooks list --json
    """
    from lms_core.webhooks.endpoints import endpoint_row, endpoints_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        emit_query(
            session,
            endpoints_query(session, actor=actor),
            endpoint_row,
            ENDPOINT_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="endpoint(s)",
        )


@app.command("test")
def test(ctx: typer.Context, endpoint_id: IdArg, json_out: JsonOpt = False) -> None:
    """Send a webhook.test event to an endpoint now (not queued); print the answer.

    Exit 0 on a 2xx answer, 1 otherwise. The attempt is logged like any delivery.

    Example: lmsctl webhooks test 1
    """
    from lms_core.webhooks.delivery import deliver
    from lms_core.webhooks.endpoints import delivery_row, prepare_test
    from lmsctl.output import fail

    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        _endpoint, delivery = prepare_test(session, actor=actor, endpoint_id=endpoint_id)
        delivery_id = delivery.id
    deliver(rt.get_session_factory(), rt.get_settings(), delivery_id)
    with acting(ctx, as_json=json_out, write=False) as (session, _actor):
        from lms_core.models.webhooks import WebhookDelivery

        row = delivery_row(session.get_one(WebhookDelivery, delivery_id))
    code = row["last_status_code"]
    line = (
        f"endpoint {endpoint_id}: "
        f"{'HTTP ' + str(code) if code is not None else 'no answer'} "
        f"in {row['last_duration_ms']} ms (delivery {delivery_id})"
    )
    if row["status"] == "succeeded":
        if json_out:
            emit_record(row, as_json=True)
        else:
            say(line)
        return
    message = f"{line}: {row['response_excerpt'] or ''}".rstrip(": ")
    if json_out:
        emit_record(row, as_json=True)
        typer.echo(message, err=True)
        raise typer.Exit(1)
    fail([{"field": "url", "value": endpoint_id, "message": message}], as_json=False)


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    endpoint: Annotated[int | None, typer.Option("--endpoint", help="Only this endpoint.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, succeeded, failed or dead.")
    ] = None,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """The delivery log, newest first: status code, duration, response excerpt.

    Example: lmsctl webhooks deliveries --endpoint 1 --status dead
    """
    from lms_core.webhooks.endpoints import deliveries_query, delivery_row, next_attempt

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = deliveries_query(session, actor=actor, endpoint_id=endpoint, status=status)

        def row(delivery: object) -> dict[str, object]:
            from lms_core.models.webhooks import WebhookDelivery

            assert isinstance(delivery, WebhookDelivery)
            values = delivery_row(delivery)
            values["next_attempt_at"] = next_attempt(session, delivery)
            return values

        emit_query(
            session,
            stmt,
            row,
            DELIVERY_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="delivery(ies)",
        )


@app.command("replay")
def replay(
    ctx: typer.Context,
    delivery_id: Annotated[
        str | None, typer.Argument(help="The delivery to send again.", show_default=False)
    ] = None,
    endpoint: Annotated[
        int | None, typer.Option("--endpoint", help="Every failed or dead delivery of it...")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="...created since this time (ISO, UTC).")
    ] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Send a delivery again (same delivery id), or every failed one of an endpoint since T.

    Example: lmsctl webhooks replay --endpoint 1 --since 2026-12-06T08:00
    """
    from lms_core.errors import UsageError
    from lms_core.webhooks import endpoints as services
    from lmsctl.output import print_json, reporting

    with reporting(as_json=json_out):
        if (delivery_id is None) == (endpoint is None) or (endpoint is None) != (since is None):
            raise UsageError("give DELIVERY_ID, or --endpoint ID --since T", field="delivery_id")
        when = _since(since) if since is not None else None
    with acting(ctx, as_json=json_out) as (session, actor):
        if delivery_id is not None:
            found = [
                services.replay(session, actor=actor, delivery_id=delivery_id, dry_run=dry_run)
            ]
        else:
            assert endpoint is not None and when is not None
            found = services.replay_since(
                session, actor=actor, endpoint_id=endpoint, since=when, dry_run=dry_run
            )
        ids = [d.id for d in found]
    verb = "would queue" if dry_run else "queued"
    say(f"{verb} {len(ids)} delivery(ies) again", as_json=json_out)
    if json_out:
        print_json({"deliveries": ids, "dry_run": dry_run})


def _toggle(ctx: typer.Context, endpoint_id: int, *, enabled: bool, as_json: bool) -> None:
    from lms_core.webhooks.endpoints import endpoint_row, set_enabled

    with acting(ctx, as_json=as_json) as (session, actor):
        row = endpoint_row(
            set_enabled(session, actor=actor, endpoint_id=endpoint_id, enabled=enabled)
        )
    word = "enabled" if enabled else "disabled"
    report_change(f"webhook endpoint {endpoint_id} {word}", row, as_json=as_json)


@app.command("disable")
def disable(ctx: typer.Context, endpoint_id: IdArg, json_out: JsonOpt = False) -> None:
    """Stop sending to an endpoint; its pending deliveries become failed (replay resends).

    Example: lmsctl webhooks disable 1
    """
    _toggle(ctx, endpoint_id, enabled=False, as_json=json_out)


@app.command("enable")
def enable(ctx: typer.Context, endpoint_id: IdArg, json_out: JsonOpt = False) -> None:
    """Send to an endpoint again (its failure count starts over).

    Example: lmsctl webhooks enable 1
    """
    _toggle(ctx, endpoint_id, enabled=True, as_json=json_out)
