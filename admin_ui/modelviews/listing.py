"""The list page of every model view, built for long lists: one pass over the rows in Python.

Flask-Admin's list template dispatches every cell through Jinja macros and
``get_list_value`` (a formatter lookup, a walk over the type formatters, an escape) and every
row action through a macro with its own ``url_for``: 80% of a 50-row page's time went there.
Here each view's columns are compiled once into cell functions (the column formatter, or
the attribute with the type formatter found once per value type, the choices map), and the
rows are rendered to one HTML string; the template (``admin/lms_list.html``) lays out the
rest of the page. The query, its filters, search, sort, paging and scope are still
Flask-Admin's ``get_list`` through :class:`~admin_ui.modelviews.base.StaffModelView`.

What is shown is what Flask-Admin's own list showed: the same columns, formatters, row
actions (view, edit, delete with its CSRF token), selection boxes, bulk actions, filters,
search, page sizes, pager and sort links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import ceil
from operator import attrgetter
from typing import Any
from urllib.parse import quote, urlencode

from flask_admin.babel import gettext
from flask_admin.model import template as row_action
from flask_admin.model import typefmt
from flask_admin.model.base import ViewArgs
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from admin_ui.modelviews.records import RecordLoader

#: Characters a query value keeps unencoded, as Werkzeug's ``url_for`` does.
URL_SAFE = _SAFE = "!$'()*,/:;?@"

Cell = Callable[[Any], str]
#: Flask-Admin's type formatters whose text depends on the value and column only (bool and
#: None values): made once per column and value.
_PURE_FORMATTERS = frozenset({typefmt.bool_formatter, typefmt.empty_formatter})


def _html(value: Any) -> str:
    """``value`` as HTML: Markup as it is, text escaped (most cells have nothing to escape)."""
    if isinstance(value, Markup):
        return value
    text = str(value)
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return escape(text)
    return text


def compile_cells(view: Any) -> list[tuple[str, Cell]]:
    """Per listed column, a function from a row to its cell's HTML (escaped text or Markup).

    The same value Flask-Admin's ``_get_list_value`` gives: the column formatter if any,
    else the attribute; then the choices map, else the first type formatter the value is
    an instance of (looked up once per type, in the formatters' order).
    """
    formatters = view.column_formatters or {}
    type_formatters = view.column_type_formatters or {}
    by_type: dict[type, Any] = {}

    def type_formatter(kind: type) -> Any:
        found = next((fmt for base, fmt in type_formatters.items() if issubclass(kind, base)), None)
        by_type[kind] = found
        return found

    def compiled(name: str) -> Cell:
        formatter = formatters.get(name)
        choices = view._column_choices_map.get(name) or {}
        getter = attrgetter(name)

        known: dict[Any, str] = {}  # what a pure type formatter made of True, False, None

        def cell(model: Any) -> str:
            if formatter is not None:
                value = formatter(view, None, model, name)
            else:
                try:
                    value = getter(model)
                except AttributeError:
                    value = None
            if choices:
                return _html(choices.get(value) or value)
            kind = type(value)
            fmt = by_type[kind] if kind in by_type else type_formatter(kind)
            if fmt is None:
                return _html(value)
            if fmt in _PURE_FORMATTERS:
                made = known.get(value)
                if made is None:
                    made = known[value] = _html(fmt(view, value, name))
                return made
            return _html(fmt(view, value, name))

        return cell

    return [(name, compiled(name)) for name, _label in view._list_columns]


class ListUrls:
    """One request's list links, as Flask-Admin's ``_get_list_url`` makes them (the same
    parameters in the same order), with the parts they share encoded once, not a
    ``url_for`` per link (a page has twenty)."""

    def __init__(self, view: Any, args: ViewArgs) -> None:
        self.base = view.get_url(".index_view")
        self.args = args
        self.safe_size = view.get_safe_page_size
        self.extra = _encode(args.extra_args.items())
        self.filters = _encode(view._get_filters(args.filters).items())

    def make(
        self,
        *,
        page: int | None = None,
        sort: Any = None,
        desc: Any = None,
        search: str | None = None,
        page_size: int | None = None,
        filters: bool = True,
    ) -> str:
        parts = []
        if page:
            parts.append(f"page={page}")
        if sort is not None:
            parts.append(_encode([("sort", sort)]))
        if desc:
            parts.append("desc=1")
        if search:
            parts.append(_encode([("search", search)]))
        if self.extra:
            parts.append(self.extra)
        parts.append(f"page_size={self.safe_size(page_size)}")
        if filters and self.filters:
            parts.append(self.filters)
        return f"{self.base}?{'&'.join(parts)}"

    def current(self, **changes: Any) -> str:
        """This list's address with ``changes`` (page, sort, desc, page_size) made."""
        args = self.args
        given: dict[str, Any] = {
            "page": args.page,
            "sort": args.sort,
            "desc": args.sort_desc,
            "search": args.search,
            "page_size": args.page_size,
        }
        given.update(changes)
        return self.make(**given)


def _encode(items: Iterable[tuple[str, Any]]) -> str:
    return urlencode([(k, v) for k, v in items if v is not None], safe=_SAFE)


class ListPage:
    """What a list page needs that does not change per request (built at a view's first list)."""

    def __init__(self, view: Any) -> None:
        if view.column_editable_list:
            raise NotImplementedError(f"{view.endpoint}: editable lists are not supported")
        self.view = view
        self.records = RecordLoader(view) if view.list_columns_only else None
        self.pk_text = _pk_text(view)
        self.cells = compile_cells(view)
        self.td_open = [f'<td class="col-{escape(name)}">' for name, _ in self.cells]
        # Filter choices given as callables may change (rows of a table): asked per request.
        dynamic = any(callable(getattr(f, "options", None)) for f in view._filters or ())
        self.filter_groups = None if dynamic else view._get_filter_groups()
        self.dynamic_filters = dynamic

    # -- the rows -----------------------------------------------------------------------
    def row_actions(self, return_url: str) -> list[Callable[[str], str]]:
        """Per row action, a function from a row's id (text, not escaped) to its HTML."""
        view = self.view
        back = Markup("url=") + quote(return_url, safe="/")
        made: list[Callable[[str], str]] = []
        for act in view.get_list_row_actions():
            title = escape(str(act.title or ""))
            if type(act) is row_action.ViewRowAction:
                made.append(
                    _link(
                        view.get_url(".details_view"),
                        back,
                        title,
                        "fa fa-eye glyphicon glyphicon-eye-open",
                    )
                )
            elif type(act) is row_action.EditRowAction:
                made.append(
                    _link(
                        view.get_url(".edit_view"),
                        back,
                        title,
                        "fa fa-pencil glyphicon glyphicon-pencil",
                    )
                )
            elif type(act) is row_action.DeleteRowAction:
                made.append(_delete_form(view.get_url(".delete_view"), return_url))
            else:
                raise NotImplementedError(f"{view.endpoint}: row action {act!r} is not supported")
        return made

    def rows_html(self, data: Iterable[Any], checkboxes: bool, return_url: str) -> Markup:
        view = self.view
        actions = self.row_actions(return_url)
        show_actions = bool(view.column_display_actions)
        cells = [cell for _, cell in self.cells]
        # One row: "<tr>", the box, the actions, then "<td class=col-name>value</td>" each.
        pattern = "<tr>"
        if checkboxes:
            pattern += (
                '<td><input type="checkbox" name="rowid" class="action-checkbox" '
                'value="{0}" title="Select record" /></td>'
            )
        if show_actions:
            pattern += '<td class="list-buttons-column">{1}</td>'
        pattern += "".join(
            f"{td.replace('{', '{{').replace('}', '}}')}{{{i + 2}}}</td>"
            for i, td in enumerate(self.td_open)
        )
        pattern += "</tr>\n"
        row_text = pattern.format
        get_pk = self.pk_text
        out: list[str] = []
        for row in data:
            pk = get_pk(row)
            buttons = "".join([act(pk) for act in actions]) if show_actions else ""
            box = pk if pk.isdecimal() else escape(pk)
            out.append(row_text(box, buttons, *[cell(row) for cell in cells]))
        if not out:
            out.append(
                '<tr><td colspan="999"><div class="text-center">'
                f"{escape(view.get_empty_list_message())}</div></td></tr>"
            )
        return Markup("".join(out))  # noqa: S704 - each value was escaped (_html, escape)


def _pk_text(view: Any) -> Callable[[Any], str]:
    """A row's id as the list's forms carry it (Flask-Admin's ``get_pk_value``; an integer
    key needs none of its escaping)."""
    mapper = view.model.__mapper__
    keys = mapper.primary_key
    if len(keys) == 1 and keys[0].type.python_type is int:
        getter = attrgetter(mapper.get_property_by_column(keys[0]).key)
        return lambda row: str(getter(row))
    return lambda row: str(view.get_pk_value(row))


def _link(base: str, back: Markup, title: Markup, icon: str) -> Callable[[str], str]:
    head = f'<a class="icon" href="{escape(base)}?id='
    tail = f'&amp;{back}" title="{title}"><span class="{icon}"></span></a>'

    def html(pk: str) -> str:
        return f"{head}{pk if pk.isdecimal() else escape(quote(pk, safe='/'))}{tail}"

    return html


def _delete_form(action: str, return_url: str) -> Callable[[str], str]:
    head = f'<form class="icon" method="POST" action="{escape(action)}"><input type="hidden" name="id" value="'
    tail = (
        f'"><input type="hidden" name="url" value="{escape(return_url)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}"/>'
        '<button data-lms-confirm="Are you sure you want to delete this record?" '
        'title="Delete Record"><span class="fa fa-trash glyphicon glyphicon-trash"></span>'
        "</button></form>"
    )

    def html(pk: str) -> str:
        return f"{head}{pk if pk.isdecimal() else escape(pk)}{tail}"

    return html


def pages_around(page: int, pages: int) -> tuple[int, int]:
    """The pager's window of page numbers (Flask-Admin's ``lib.pager`` arithmetic)."""
    low, high = page - 3, page + 4
    if low < 0:
        high -= low
    if high >= pages:
        low = low - high + pages
    return max(low, 0), min(high, pages)


def index_context(view: Any) -> dict[str, Any]:
    """The list page's template arguments (``index_view`` of Flask-Admin, lean)."""
    page_data: ListPage | None = view.__dict__.get("_lms_list_page")
    if page_data is None:
        page_data = ListPage(view)
        view._lms_list_page = page_data
    args = view._get_list_extra_args()
    found = view._get_column_by_idx(args.sort)
    sort_column = found[0] if found is not None else None
    page_size = view.get_safe_page_size(args.page_size)
    loader = page_data.records
    count, data = view.get_list(
        args.page,
        sort_column,
        args.sort_desc,
        args.search,
        args.filters,
        execute=loader is None,
        page_size=page_size,
    )
    if loader is not None:
        data = loader.load(data)
    if count is not None and page_size:
        num_pages: int | None = ceil(count / page_size)
    elif not page_size:
        num_pages = 0
    else:
        num_pages = None
    urls = ListUrls(view, args)

    def pager_url(p: int | None) -> str:
        return urls.current(page=p)

    def sort_url(column: int, invert: bool = False, desc: Any = None) -> str:
        if not desc and invert and not args.sort_desc:
            desc = 1
        return urls.current(sort=column, desc=desc)

    actions, confirmations = view.get_actions_list()
    return_url = urls.current()
    # The links the template shows, made here (a call from Jinja costs more than its work).
    window = pages_around(args.page, num_pages) if num_pages else (0, 0)
    wanted = {0, args.page, args.page - 1, args.page + 1, *range(*window)}
    if num_pages:
        wanted.add(num_pages - 1)
    sorting = [
        sort_url(i, True) if args.sort == i else sort_url(i) for i in range(len(view._list_columns))
    ]
    return {
        "rows_html": page_data.rows_html(data, bool(actions), return_url),
        "row_count": len(data),
        "list_columns": view._list_columns,
        "count": count,
        "pager_url": pager_url,
        "pager_window": window,
        "pager_links": {p: pager_url(p) for p in wanted if p >= 0},
        "sort_links": sorting,
        "sort_titles": [
            gettext("Sort by %(name)s", name=label) for _c, label in view._list_columns
        ],
        "page_size_links": [
            (size, urls.current(page_size=size or view.page_size))
            for size in view.page_size_options
        ],
        "num_pages": num_pages,
        "can_set_page_size": view.can_set_page_size,
        "page_size_url": lambda size: urls.current(page_size=size or view.page_size),
        "page": args.page,
        "page_size": page_size,
        "default_page_size": view.page_size,
        "sort_column": args.sort,
        "sort_desc": args.sort_desc,
        "sort_url": sort_url,
        "sortable": [view.is_sortable(c) for c, _ in view._list_columns],
        "search_supported": view._search_supported,
        "clear_search_url": urls.current(page=0, search=None, filters=False),
        "search": args.search,
        "search_placeholder": view.search_placeholder(),
        "filters": view._filters,
        "filter_groups": (
            view._get_filter_groups() if page_data.dynamic_filters else page_data.filter_groups
        ),
        "active_filters": args.filters,
        "filter_args": view._get_filters(args.filters),
        "actions": actions,
        "actions_confirmation": confirmations,
        "return_url": return_url,
        "extra_args": args.extra_args,
    }
