"""The API's ceiling: every request, per client address and endpoint, at most
``api_rate_limit`` (``LMS_API_RATE_LIMIT``, 600 a minute by default); a breach is a 429
problem with ``Retry-After``, and every answer carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.

Counted by limits (the library Flask-Limiter counts with: the same moving window, in the
limiter's own storage, Redis or this worker's memory), but checked here rather than by
Flask-Limiter. Flask-Limiter works out at every request which of its limits apply (route,
blueprint, defaults, exemptions, each limit string parsed again): about 0.2 ms of CPU a
request in one process, a fifth of a catalog answer, to find the one limit known when the
app was built. Flask-Limiter keeps the limits that need its rules: the strict ones on
logging in, refreshing and resetting (per address and per account, a successful login not
counted) and the public forms'; every other request it now lets by at its first check
(:func:`admin_ui.api.limits.init_limits`).
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from admin_ui.api.problems import ApiProblem, error_entry

#: Where the app keeps its ceiling (``app.extensions[EXTENSION]``).
EXTENSION = "lms_api_ceiling"
#: The counts' names: limits adds each limit's own amount and period after them.
SCOPE = "lms-api"
_COUNTED = "lms_api_ceiling_counted"


class Ceiling:
    """The limits of one setting (``600 per minute``, or several: ``600/minute;20000/day``),
    counted per address and endpoint in ``storage``."""

    def __init__(self, setting: str, storage: Storage, *, apart: frozenset[str]) -> None:
        self.items: list[RateLimitItem] = parse_many(setting)
        self.counter = MovingWindowRateLimiter(storage)
        #: Endpoints with limits of their own (Flask-Limiter's, and its headers): not counted.
        self.apart = apart

    def check(self) -> None:
        """Count this request against each limit; a 429 problem at the first one it breaks."""
        if request.endpoint in self.apart:
            return
        names = (SCOPE, get_remote_address(), request.endpoint or "")
        for item in self.items:
            if not self.counter.hit(item, *names):
                reset, _ = self.counter.get_window_stats(item, *names)
                wait = max(int(reset - time.time()), 1)
                detail = f"too many requests: at most {item} from one address; retry in {wait} s"
                raise ApiProblem(
                    429,
                    detail,
                    [error_entry(None, None, detail)],
                    headers={"Retry-After": str(wait), **_counts(item, reset, 0)},
                )
        setattr(g, _COUNTED, names)

    def add_headers(self, response: Response) -> Response:
        """The counts of the limit nearest its end, on an answer to a counted request."""
        names = g.get(_COUNTED)
        if names is None or "X-RateLimit-Limit" in response.headers:
            return response  # not counted (refused before), or a 429 that has them
        nearest = min(
            ((item, *self.counter.get_window_stats(item, *names)) for item in self.items),
            key=lambda stats: stats[2],
        )
        response.headers.update(_counts(*nearest))
        return response


def _counts(item: RateLimitItem, reset: float, remaining: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(item.amount),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset + 1)),
    }


def init_ceiling(
    app: Flask, setting: str, storage: Storage, *, apart: frozenset[str] = frozenset()
) -> Ceiling:
    """Count every request to the ``api`` blueprint, first of its own checks (a flood is
    refused before a body is read), and add the counts to its answers. The blueprint is
    registered already, so its functions are added where Flask keeps a blueprint's. The
    ``apart`` endpoints (logging in, refreshing, resetting) have their stricter limits
    instead, as they had in place of Flask-Limiter's blueprint limit."""
    ceiling = Ceiling(setting, storage, apart=apart)
    app.before_request_funcs.setdefault("api", []).insert(0, ceiling.check)
    app.after_request_funcs.setdefault("api", []).append(ceiling.add_headers)
    app.extensions[EXTENSION] = ceiling
    return ceiling
