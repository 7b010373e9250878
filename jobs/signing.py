"""Queue entries signed with the secret key, so a forged one is refused before it is unpickled.

Huey stores each message as a pickle, and unpickling runs code: whoever can write to the
queue (the ``huey.db`` file, the Redis list) could run anything in a worker. Huey's
:class:`~huey.serializer.SignedSerializer` appends an HMAC of the pickle and checks it before
``pickle.loads``; ours is the same with HMAC-SHA256 under a key derived from
``settings.secret_key`` (never the key itself), and a refusal that says what happened.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from huey.serializer import SignedSerializer

log = logging.getLogger("jobs.signing")

SALT = b"lms-huey-queue-v1"


class ForgedEntry(ValueError):
    """A queue entry whose signature does not match: forged, or signed with another secret."""


class QueueSerializer(SignedSerializer):  # type: ignore[misc]  # huey ships no type hints
    """Pickles signed with HMAC-SHA256; an entry that fails the check is never unpickled."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret=secret, salt=SALT.decode())
        self._key = hmac.new(SALT, secret.encode("utf-8"), hashlib.sha256).digest()

    def _signature(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest().encode("ascii")

    def _unsign(self, signed: bytes) -> bytes:
        message, separator, signature = bytes(signed).rpartition(b":")
        if separator and hmac.compare_digest(signature, self._signature(message)):
            return message
        log.error(
            "refused a queue entry of %d bytes: its signature does not match the secret key "
            "(forged, or written by a producer with another LMS_SECRET_KEY); not unpickled",
            len(signed),
        )
        raise ForgedEntry("queue entry refused: bad signature (not unpickled)")
