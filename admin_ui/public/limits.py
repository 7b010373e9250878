"""How large a body the public pages read (a few kilobytes for a form, one PDF for
``/verify``), and what a refused form says.

The app's own limit is import-sized (hundreds of megabytes, for staff uploads). A page that
anyone may post to must not make the server read that much: each public POST gets its own,
small limit. It is set in a URL value preprocessor because those run before every
``before_request`` function, and the CSRF check (one of them) is what first reads the body.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from admin_ui.public import public

#: The largest PDF the certificate check reads (a certificate is well under 1 MB).
MAX_PDF_MB = 10
#: A login, e-mail or password form: a few fields.
FORM_LIMIT = 64 * 1024
#: What the multipart framing around the PDF may add.
_FRAMING = 64 * 1024

_LIMITS = {"public.verify_certificate": MAX_PDF_MB * 1024 * 1024 + _FRAMING}


@public.url_value_preprocessor
def limit_body(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        request.max_content_length = _LIMITS.get(endpoint or "", FORM_LIMIT)


@public.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    pdf = request.endpoint == "public.verify_certificate"
    message = (
        f"That file is larger than {MAX_PDF_MB} MB; a certificate PDF is far smaller."
        if pdf
        else "That form sent far more than its fields can hold."
    )
    return render_template("public/refused.html", message=message), 413


@public.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> ResponseReturnValue:
    """A form sent without its token, or after the token expired (a page left open for
    hours): refused, with words a visitor can act on instead of a bare "Bad Request"."""
    message = f"This form was refused: {exc.description} Reload the page and send the form again."
    return render_template("public/refused.html", message=message), 400
