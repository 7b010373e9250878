"""The signed request: the body, and ``Webhook-Id``/``-Timestamp``/``-Signature`` headers.

The Standard Webhooks scheme, with a hex signature: ``Webhook-Signature: v1=<hex>`` where hex
is HMAC-SHA256 with the endpoint's secret over ``f"{id}.{timestamp}.{body}"``. The id is
signed because receivers deduplicate on it: were it not, a captured request could be
replayed within the timestamp tolerance under a new ``Webhook-Id`` and be processed again.
The receiver recomputes the signature over the id, timestamp and raw body, compares in
constant time, rejects a timestamp older than a few minutes (a replayed capture), and drops
an id it has seen. ``examples/webhooks/receiver.py`` does so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from lms_core import __version__

USER_AGENT = f"lms-toolkit-webhooks/{__version__}"


def body_of(delivery_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The JSON body: the same bytes for every attempt of a delivery."""
    document = {
        "id": delivery_id,
        "type": event_type,
        "created_at": created_at.isoformat(),
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{delivery_id}.{timestamp}.{body}"`` with ``secret``."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def headers_for(
    secret: str, delivery_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The request headers, signed now (each attempt has a fresh timestamp)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": delivery_id,
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": f"v1={signature(secret, delivery_id, stamp, body)}",
    }
