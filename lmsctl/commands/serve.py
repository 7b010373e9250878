"""lmsctl serve: the back office on Werkzeug's development server.

For a developer's machine: one process, no TLS, no worker management. Production runs
gunicorn with the repository's ``gunicorn.conf.py``; the command prints how. Flask is
imported only here, inside the command (``lmsctl --help`` never loads the web stack).
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, single
from lmsctl.runtime import acting, runtime

app = single("Serve the back office on the development server (production: gunicorn).")

#: What production runs instead (README, "Back office").
GUNICORN = "gunicorn -c gunicorn.conf.py 'admin_ui.app:create_app()'"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port.")] = 5000,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when a source file changes.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Serve the back office (admin_ui.app:create_app) on Werkzeug's development server.

    For development only: one process, plain HTTP, and nothing restarts it. In production
    run gunicorn with the repository's config (bind address from LMS_BIND):
    gunicorn -c gunicorn.conf.py 'admin_ui.app:create_app()'. The interactive debugger is
    never turned on (it runs any code a visitor sends). Stop with Ctrl-C.

    Example: lmsctl serve --host 127.0.0.1 --port 5000
    """
    from lms_core.permissions import require_admin

    with acting(ctx, as_json=json_out, write=False) as (_session, actor):
        require_admin(actor, "serve the back office")
    from lmsctl.output import reporting

    with reporting(as_json=json_out):
        from admin_ui.app import create_app

        flask_app = create_app(runtime(ctx).get_settings())
    import logging

    from werkzeug.serving import run_simple

    from admin_ui.public.redact import RedactTokens

    for name in ("werkzeug", flask_app.logger.name):  # no working links in the log
        logging.getLogger(name).addFilter(RedactTokens())
    from admin_ui.api.requestlog import write_lines_to

    write_lines_to([logging.StreamHandler()])  # the API's JSON lines, on stderr as Werkzeug's
    typer.echo(
        f"Serving the back office at http://{host}:{port}/ with the DEVELOPMENT server "
        f"(not for production; there run: {GUNICORN}).",
        err=True,
    )
    if host not in _LOOPBACK:
        typer.echo(
            f"warning: listening on {host}: anyone who reaches this address can open the "
            "login page, over plain HTTP",
            err=True,
        )
    run_simple(host, port, flask_app, use_reloader=reload, use_debugger=False, threaded=True)
