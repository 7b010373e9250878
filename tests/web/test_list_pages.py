"""The back office's own list page (``admin_ui/modelviews/listing.py``) against Flask-Admin's.

Our list renders rows in one pass in Python and makes its links without ``url_for``; what it
shows must stay what Flask-Admin's generic list template shows for the same request: the
same rows, cells, row actions, selection boxes, bulk actions, filters, search, page sizes,
pager and sort links. Each list view is rendered both ways, for an administrator and an
instructor, with sorting, paging, search and filters in the address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_admin.contrib.sqla import ModelView

from admin_ui.modelviews.base import StaffModelView
from admin_ui.modelviews.listing import ListUrls
from lms_core.models import User
from tests.factories import Factories

Login = Callable[[User], FlaskClient]

QUERIES = ("", "?sort=0&desc=1", "?sort=1&page=1&page_size=100", "?search=a", "?page=999")
#: Ours adds export links and, on some views, a link beside the filters.
_OURS_ONLY = re.compile(
    r'<li class="nav-item"><a class="nav-link" href="[^"]*(export\.(csv|xlsx)|/issue/)[^"]*">'
    r"[^<]*</a></li>"
)


def _tokens(html: str) -> list[str]:
    html = re.sub(r" nonce=\"[^\"]*\"", "", html)
    html = re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html))
    html = _OURS_ONLY.sub("", re.sub(r"<!--.*?-->", "", html))
    return [t.strip() for t in re.findall(r"<[^>]+>|[^<]+", html) if t.strip()]


def _list_views(app: Flask) -> list[StaffModelView]:
    views = app.extensions["admin"][0]._views
    return [
        v
        for v in views
        if isinstance(v, StaffModelView) and type(v).index_view is StaffModelView.index_view
    ]


def _add_generic_lists(app: Flask) -> None:
    """``/generic/<endpoint>/``: Flask-Admin's own list view and template for that view
    (access rule and all), beside ours (before the app's first request)."""
    for view in _list_views(app):

        def generic(view: StaffModelView = view) -> Any:
            view.list_template = "admin/model/list.html"  # the instance's, for this call
            try:
                return ModelView.index_view(view)
            finally:
                del view.list_template

        # In the view's blueprint (by its endpoint's name): ".index_view" links resolve.
        app.add_url_rule(f"/generic/{view.endpoint}/", f"{view.endpoint}.generic", generic)


@pytest.mark.parametrize("role", ["admin", "instructor"])
def test_each_list_shows_what_flask_admins_list_shows(
    app: Flask, logged_in: Login, make: Factories, role: str
) -> None:
    _add_generic_lists(app)
    teacher = make.user("instructor")
    for n in range(3):
        course = make.course(instructor=teacher, lessons=2, published=n != 1, slug=f"c{n}")
        for _ in range(4):
            make.enroll(make.user("student"), course)
    viewer = teacher if role == "instructor" else make.user("admin")
    client = logged_in(viewer)
    client.get("/admin/")  # shows (and so ends) the login's flash message
    for view in _list_views(app):
        for query in QUERIES:
            url = f"/admin/{view.endpoint}/{query}"
            answer = client.get(url)
            if answer.status_code != 200:  # a view this role may not open
                assert answer.status_code in (302, 403), url
                continue
            ours = _tokens(answer.get_data(as_text=True))
            generic = client.get(f"/generic/{view.endpoint}/{query}")
            assert generic.status_code == 200, url
            theirs = _tokens(generic.get_data(as_text=True))
            ours = [t for t in ours if 'name="csrf_token"' not in t]
            theirs = [t for t in theirs if 'name="csrf_token"' not in t]
            assert ours == theirs, url


def test_list_links_are_flask_admins(app: Flask) -> None:
    """Sort, page, page size and "clear search" links: Flask-Admin's ``_get_list_url``."""
    view = next(v for v in _list_views(app) if v.endpoint == "enrollment")
    for query in (
        "",
        "?page=3&sort=2&desc=1&search=a+b%26c&page_size=100&flt0_0=x%3Dy&foo=bar",
        "?flt1_1=active&flt0_0=slug&sort=0",
        "?page_size=7&page=0",
    ):
        with app.test_request_context(f"/admin/enrollment/{query}"):
            args = view._get_list_extra_args()
            urls = ListUrls(view, args)
            pairs = [
                (args, urls.current()),
                (args.clone(page=5), urls.current(page=5)),
                (args.clone(page=None), urls.current(page=None)),
                (args.clone(sort=3, sort_desc=1), urls.current(sort=3, desc=1)),
                (args.clone(sort=3, sort_desc=None), urls.current(sort=3, desc=None)),
                (args.clone(page_size=500), urls.current(page_size=500)),
                (
                    args.clone(page=0, search=None, filters=None),
                    urls.current(page=0, search=None, filters=False),
                ),
            ]
            for wanted, made in pairs:
                assert made == view._get_list_url(wanted), query
