"""Prometheus /metrics: request counts and latency histograms, the queue depth, this host only."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import API


def test_metrics_count_requests_and_latency(
    client: FlaskClient, as_user: Any, learner: Any
) -> None:
    api = as_user(learner)
    api.get("/courses")
    api.get("/courses")
    client.get(f"{API}/courses")  # 401
    text = api.client.get("/metrics").get_data(as_text=True)
    assert 'lms_api_requests_total{endpoint="api.courses",method="GET",status="200"} 2.0' in text
    assert 'lms_api_requests_total{endpoint="api.courses",method="GET",status="401"} 1.0' in text
    assert (
        'lms_api_request_duration_seconds_bucket{endpoint="api.courses",le="0.5",method="GET"}'
        in text
    )
    assert 'lms_jobs{status="queued"} 0.0' in text


def test_metrics_count_each_apps_own(client: FlaskClient) -> None:
    client.get(f"{API}/openapi.json")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'endpoint="api.openapi",method="GET",status="200"} 1.0' in text


def test_metrics_are_for_this_host_only(client: FlaskClient) -> None:
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert far.status_code == 403
