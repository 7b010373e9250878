"""Prometheus ``/metrics``: the API's requests and latencies, and the job queue's depth.

Each app has its own registry (tests build many apps; the library's global one would refuse
a second registration). Under gunicorn with several workers, a scrape reaches one worker: set
``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py empties it at start and tells the library when
a worker exits) and every worker writes its counts to files there, which the page sums
(prometheus_client's multiprocess mode): one answer counts every worker's requests. Without
it, the counts are the answering worker's own. The queue depth is read from the jobs table at
scrape time (a collector, not a stored gauge), so it is the same whoever answers.

The page answers only this host (loopback): the reverse proxy must not forward ``/metrics``
(an address the proxy forwards for is the client's, and is refused).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

EXTENSION = "lms_metrics"
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
#: Latency buckets (seconds): a catalog page is milliseconds, an upload may take seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: prometheus_client's own variable: the folder of the workers' count files (multiprocess mode).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

metrics_page = Blueprint("metrics", __name__)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lms_api_requests",
            "API requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lms_api_request_duration_seconds",
            "Time to answer an API request, by endpoint and method.",
            ["endpoint", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.jobs = QueueDepth()
        self.registry.register(self.jobs)

    def observe(self, response: Response) -> Response:
        """Count one API answer (an after_request function of the API blueprint)."""
        started = g.get("api_started")
        endpoint = request.endpoint or "unknown"
        self.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            self.latency.labels(endpoint, request.method).observe(time.perf_counter() - started)
        return response

    def scrape(self) -> bytes:
        """The text format: this registry's, or every worker's count files summed."""
        folder = os.environ.get(MULTIPROC_ENV)
        if not folder:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        summed = CollectorRegistry()
        MultiProcessCollector(summed, path=folder)  # type: ignore[no-untyped-call]
        summed.register(self.jobs)
        return generate_latest(summed)


class QueueDepth(Collector):
    """``lms_jobs{status}``: jobs in the queue, counted in the jobs table when scraped."""

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("lms_jobs", "Jobs in the queue, by status.", labels=["status"])

    def describe(self) -> Iterator[Metric]:
        """The metric's name (the registry asks at registration; no query then)."""
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        from sqlalchemy import func, select

        from admin_ui.app import state
        from lms_core.models import Job, JobStatus

        session = state().session_factory()
        try:
            stmt = select(Job.status, func.count()).group_by(Job.status)
            counts = {str(row[0]): int(row[1]) for row in session.execute(stmt).all()}
        finally:
            session.close()
        family = self._family()
        for status in JobStatus:
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family


def current_metrics() -> ApiMetrics:
    found: ApiMetrics = current_app.extensions[EXTENSION]
    return found


@metrics_page.get("/metrics")
def metrics() -> ResponseReturnValue:
    """The Prometheus text format, for a scraper on this host."""
    # A request relayed by a proxy comes from the proxy's (local) address: whatever it
    # forwards, it came from outside.
    relayed = any(name in request.headers for name in _PROXY_HEADERS)
    if relayed or request.remote_addr not in _LOOPBACK:
        return Response("metrics are served to this host only\n", 403, mimetype="text/plain")
    return Response(current_metrics().scrape(), mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> ApiMetrics:
    """The app's metrics. With ``PROMETHEUS_MULTIPROC_DIR`` set, its folder is checked and made
    here too: outside gunicorn (``lmsctl serve``) nothing else makes it, and a missing folder
    turned every API request into a 500 (each count writes a file there)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        from pathlib import Path

        from admin_ui.api.metrics_dir import prepare_folder

        prepare_folder(Path(folder), app.extensions["lms"].settings, empty=False)
    found = ApiMetrics()
    app.extensions[EXTENSION] = found
    app.register_blueprint(metrics_page)
    return found
