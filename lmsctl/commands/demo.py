"""lmsctl demo: seed (a small demo school) and generate (synthetic data at scale)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lmsctl.options import DryRunOpt, JsonOpt, group
from lmsctl.output import emit_record, report_change, reporting, say
from lmsctl.runtime import runtime

app = group("Demo data: a small seeded school, or synthetic data at scale.")


@app.command("seed")
def seed(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create the demo users, courses, lessons and enrollments; running it again changes nothing.

    Example: lmsctl demo seed && lmsctl courses list
    """
    rt = runtime(ctx)
    from lms_core.certificates.reissue import certificates_lock
    from lms_core.ops.demo import DEMO_CERTIFICATE_COURSE, DEMO_USERS
    from lms_core.ops.demo import seed as seed_service

    # The demo certificate's PDF is written before the seed commits: hold the course's
    # certificates lock until then, so that an issue run cannot remove it as an orphan.
    with (
        reporting(as_json=json_out),
        certificates_lock(rt.get_session_factory(), DEMO_CERTIFICATE_COURSE, holder="demo seed"),
        rt.unit_of_work() as (session, actor),
    ):
        report = seed_service(session, actor=actor, hasher=rt.hasher(), settings=rt.get_settings())
    if json_out:
        emit_record(
            {
                "created": report.created,
                "unchanged": report.unchanged,
                "users": [
                    {"email": e, "role": r.value, "password": p} for e, _, r, p in DEMO_USERS
                ],
            },
            as_json=True,
        )
        return
    say(f"demo seed: {len(report.created)} created, {len(report.unchanged)} already there")
    for what in report.created:
        say(f"  + {what}")
    say("demo logins (development only):")
    for email, _, role, password in DEMO_USERS:
        say(f"  {role.value:<10} {email:<30} {password}")


@app.command("generate")
def generate(
    ctx: typer.Context,
    users: Annotated[int, typer.Option("--users", min=0, help="Synthetic learners.")] = 1000,
    courses: Annotated[
        int, typer.Option("--courses", min=0, help="Synthetic courses (5 lessons each).")
    ] = 20,
    enrollments: Annotated[
        int, typer.Option("--enrollments", min=0, help="Distinct enrollments.")
    ] = 2000,
    seed_value: Annotated[
        int | None, typer.Option("--seed", help="Random seed, for repeatable data.")
    ] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Bulk-insert synthetic data for benchmarks (no passwords: nobody can log in as them).

    Example: lmsctl demo generate --users 100000 --courses 200 --enrollments 300000
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from rich.console import Console
        from rich.progress import Progress

        from lms_core.ops.demo import generate as generate_service
        from lms_core.ops.demo import plan_generate

        if dry_run:
            plan = plan_generate(
                rt.get_settings(),
                actor=rt.actor(),
                n_users=users,
                n_courses=courses,
                n_enrollments=enrollments,
            )
            report_change(
                f"dry run: would insert {plan.users} users, {plan.instructors} instructors, "
                f"{plan.courses} courses, {plan.lessons} lessons, {plan.enrollments} enrollments",
                {**plan.__dict__, "dry_run": True},
                as_json=json_out,
            )
            return
        started = time.perf_counter()
        with Progress(transient=True, disable=json_out, console=Console(stderr=True)) as bar:
            total = users + courses + courses * 5 + enrollments + max(1, courses // 20)
            task = bar.add_task("generating", total=total)

            def tick(what: str, n: int) -> None:
                bar.update(task, advance=n, description=f"inserting {what}")

            with rt.unit_of_work() as (session, actor):
                report = generate_service(
                    session,
                    actor=actor,
                    settings=rt.get_settings(),
                    n_users=users,
                    n_courses=courses,
                    n_enrollments=enrollments,
                    progress=tick,
                    seed_value=seed_value,
                )
        seconds = time.perf_counter() - started
    row = {**report.__dict__, "seconds": round(seconds, 2)}
    report_change(
        f"generated {report.users} users, {report.instructors} instructors, {report.courses} courses, "
        f"{report.lessons} lessons, {report.enrollments} enrollments in {seconds:.1f}s (tag {report.tag})",
        row,
        as_json=json_out,
    )
