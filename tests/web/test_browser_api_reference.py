"""In Chromium: the API reference page (``/api/v1/docs``) opens without a login, every request
it makes stays on this server (no CDN), the browser reports no Content-Security-Policy
refusal, and a schema link jumps to that schema; on a phone its tables scroll inside the page
rather than widening it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser_support import PHONE, Console, LiveServer, chromium_or_stop, live_server


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_or_stop()
    with live_server(db_url, tmp_path_factory.mktemp("browser-api-docs")) as running:
        yield running


def test_the_reference_page_in_a_browser(browser: Any, server: LiveServer) -> None:
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        context = browser.new_context(viewport=viewport, locale="en-GB")
        context.set_default_timeout(10_000)
        page = context.new_page()
        console = Console()
        console.attach(page)
        requested: list[str] = []
        page.on("request", lambda request, seen=requested: seen.append(request.url))
        page.goto(server.at("/api/v1/docs"))
        assert page.locator("h1").inner_text().startswith("LMS API")
        assert page.locator("article#get-courses").is_visible()
        page.click("article#get-courses a[href='#schema-CoursePage']")
        page.wait_for_function("() => location.hash === '#schema-CoursePage'")
        assert page.locator("#schema-CoursePage").is_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page is {width} px wide on {viewport}"
        assert requested and all(url.startswith(server.url) for url in requested), requested
        console.check()
        context.close()
