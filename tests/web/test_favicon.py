"""``/favicon.ico``, asked for by browsers on every page: an icon, to anyone, with the security
headers of every response, cached."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_the_icon_is_served_to_anyone(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=86400" in response.headers["Cache-Control"]
