"""The reference page ``/api/v1/docs``: generated from the served OpenAPI document, public like
it, every operation with its scope, parameters, body and answers, and nothing loaded from
elsewhere (no script, no CDN)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.api.conftest import API


def test_the_page_lists_every_operation_of_the_document(client: FlaskClient) -> None:
    doc = client.get(f"{API}/openapi.json").get_json()
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    count = 0
    for path, entry in doc["paths"].items():
        short = path.removeprefix(API)
        for method, operation in entry.items():
            count += 1
            anchor = f"{method}-{short.strip('/').replace('/', '-')}".replace("{", "")
            anchor = anchor.replace("}", "")
            article = page.split(f'id="{anchor}"', 1)[1].split("</article>", 1)[0]
            assert f"<code>{short}</code>" in article
            assert f"<code>{operation['x-scope']}</code>" in article, anchor
            text = re.sub(r"</?code>", "", article).replace("&#39;", "'").replace("&#34;", '"')
            assert operation["summary"].replace("``", "") in text
            for parameter in operation.get("parameters", []):
                assert f"<code>{parameter['name']}</code>" in article
            for status in operation["responses"]:
                assert f"<td>{status}</td>" in article
    assert count >= 30
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert 'href="#schema-CoursePage"' in page  # a body names its schema by a link
    assert "sends as <code>X-CSRFToken</code>" in page  # a docstring's ``literal``
    assert "``" not in page


def test_the_page_is_public_and_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    response = client.get(f"{API}/docs")
    assert response.status_code == 200  # no token, no session: public, as the document is
    page = response.get_data(as_text=True)
    assert "<script" not in page
    sources = re.findall(r'(?:src|href)="([^"#]*)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "/static/lms.css" in sources and f"{API}/openapi.json" in sources
    assert "Content-Security-Policy" in response.headers


def test_spectrees_own_pages_stay_off(client: FlaskClient) -> None:
    """spectree's Swagger UI and ReDoc pages load from a CDN: none is registered."""
    for path in ("/api/v1/_spectree/swagger/", "/api/v1/_spectree/redoc/", "/api/v1/_spectree"):
        assert client.get(path).status_code == 404


def test_literals_become_code_and_everything_is_escaped() -> None:
    from admin_ui.api.reference import inline_code

    assert str(inline_code("send ``X-CSRFToken`` <b>")) == "send <code>X-CSRFToken</code> &lt;b&gt;"
    assert str(inline_code("``<script>``")) == "<code>&lt;script&gt;</code>"
