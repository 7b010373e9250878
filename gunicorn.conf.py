"""gunicorn's settings for the back office in production.

    gunicorn -c gunicorn.conf.py 'admin_ui.app:create_app()'

Environment:
  LMS_BIND                  address to listen on (default 127.0.0.1:8000: behind a reverse proxy
                            on the same host; 0.0.0.0:8000 in a container)
  LMS_WEB_WORKERS           worker processes; unset: 2 x CPU cores + 1, at most 12, on
                            PostgreSQL, and 1 on SQLite (one writer at a time: more workers
                            only wait for each other). Exported, so each worker's settings see
                            the real count (production refuses SQLite under several workers).
  LMS_FORWARDED_ALLOW_IPS   the proxies whose X-Forwarded-Proto/-For are trusted (default
                            127.0.0.1,::1). Set it to your reverse proxy's address; "*" only when
                            nothing but the proxy can reach gunicorn. Untrusted, a client could
                            claim to be on HTTPS or to come from any address.
  LMS_WEB_TIMEOUT           seconds a request may run before its worker is restarted (120)
  PROMETHEUS_MULTIPROC_DIR  a folder for the workers' metrics files (prometheus_client's
                            multiprocess mode): /metrics then counts every worker's requests,
                            not only the answering worker's. Emptied of prometheus_client's
                            files at start; refused if it is the database's or the files'
                            folder or holds anything else. Give each site its own, writable
                            by the service user only.

Every other setting is the toolkit's own (LMS_DATABASE_URL, LMS_SECRET_KEY, ...), read by
each worker when it builds the app. Put a reverse proxy (nginx, Caddy) in front: it speaks TLS,
serves slow clients, and caps request bodies; gunicorn's sync workers must not face the
internet directly.
"""

from __future__ import annotations

import logging
import os

from gunicorn.glogging import Logger  # type: ignore[import-untyped]


def _workers() -> int:
    given = os.environ.get("LMS_WEB_WORKERS")
    if given:
        return int(given)
    from lms_core.settings import load_settings

    if load_settings().is_sqlite:
        return 1
    return min(2 * (os.cpu_count() or 1) + 1, 12)


wsgi_app = "admin_ui.app:create_app()"
#: The Flask app's logger (named after its import name): it logs a failed request's path.
APP_LOGGER = "admin_ui.app"
bind = [os.environ.get("LMS_BIND", "127.0.0.1:8000")]
workers = _workers()
os.environ["LMS_WEB_WORKERS"] = str(workers)
worker_class = "sync"

# A request that runs longer than this is killed (its transaction rolls back); large imports
# run as jobs, so two minutes covers an upload's plan on a slow disk.
timeout = int(os.environ.get("LMS_WEB_TIMEOUT", "120"))
graceful_timeout = 30  # on SIGTERM/SIGHUP, requests in flight get this long to finish
keepalive = 5  # seconds an idle keep-alive connection from the proxy is held open
# A worker is replaced after this many requests (with jitter, so they do not all restart at
# once): a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200

forwarded_allow_ips = os.environ.get("LMS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl):
# two sites (or a site and a test run) on one host would take it from each other, and whoever
# reaches it can resize or stop the server. The toolkit manages gunicorn through its service
# manager's signals, so the socket stays closed (older gunicorns ignore the setting).
control_socket_disable = True

# Logs on stdout/stderr (the service manager or container runtime keeps them). The access
# line: client, time, request, status, bytes, referrer, user agent, and duration in ms. An API
# request gets its JSON line there instead (admin_ui/api/requestlog.py: request id, time,
# method, path, query, status, bytes, duration, user id, address, user agent).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LMS_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger, with the one-time token of a password or verification link (in
    the request line, path, query or referrer; in an error's message) replaced by ``[token]``."""

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        from admin_ui.public.redact import RedactTokens

        super().setup(cfg)
        # "Error handling request /set-password/<token>", and the app's "Exception on ...".
        for logger in (self.error_log, logging.getLogger(APP_LOGGER)):
            if not any(isinstance(f, RedactTokens) for f in logger.filters):
                logger.addFilter(RedactTokens())
        # The API's JSON line per request goes where the access log goes (none when it is off).
        from admin_ui.api.requestlog import LOGGED, write_lines_to

        write_lines_to(list(self.access_log.handlers))
        self.api_logged = LOGGED

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        """No access line for a request the API logged as JSON (its own line says more)."""
        if environ.get(self.api_logged):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        from admin_ui.public.redact import redact

        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger


def on_starting(server):  # type: ignore[no-untyped-def]
    """Before the first worker: the metrics folder checked, made and emptied of the last run's
    files (a previous run's counts must not be added to this one's). Only prometheus_client's
    own file names are deleted; a folder that is the data's, or holds anything else, stops the
    start (see admin_ui/api/metrics_dir.py)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from pathlib import Path

        from admin_ui.api.metrics_dir import MetricsFolderError, prepare_folder
        from lms_core.settings import load_settings

        try:
            prepare_folder(Path(folder), load_settings(), empty=True)
        except MetricsFolderError as exc:
            raise SystemExit(f"Error: {exc}") from None


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker ended (restarted after max_requests, or killed): its live gauges are dropped;
    its counters' files stay, so the totals keep counting what it answered."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
