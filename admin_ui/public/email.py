"""``/verify-email/<token>``: the link of the e-mail verification mail.

Opening the link shows a button; the address is verified when it is pressed (a POST with its
CSRF token). A GET changes nothing: mail scanners and link previews open every link in a
message, and must not use the token up on the owner's behalf.
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from admin_ui.db import request_session
from admin_ui.public import public
from admin_ui.public.passwords import link_refused, sentence
from lms_core.models import TokenPurpose

_NEXT_STEP = "Ask for a new verification e-mail in the learning app or from your administrator."


@public.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str) -> ResponseReturnValue:
    from lms_core.accounts.tokens import check_token, consume_token
    from lms_core.errors import LmsError

    purpose = TokenPurpose.email_verification
    db = request_session()
    try:
        if request.method == "GET":
            email = check_token(db, raw=token, purpose=purpose).email
            return render_template("public/verify_email.html", token=token, email=email)
        email = consume_token(db, raw=token, purpose=purpose).email
        db.commit()
    except LmsError as exc:
        db.rollback()
        return link_refused(sentence(exc), next_step=_NEXT_STEP, offer_reset=False)
    return render_template("public/email_verified.html", email=email)
