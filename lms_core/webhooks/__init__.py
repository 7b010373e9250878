"""Webhooks: signed HTTP POSTs of domain events to the endpoints an administrator adds.

``http`` sends one request (SSRF guard, timeouts, no redirects), ``signing`` builds the
signed body and headers, ``delivery`` runs one attempt for the ``webhooks.deliver`` job and
records it, ``batch`` sends a ``webhooks.deliver_many`` batch over one connection, ``endpoints`` holds the administrator's services (docs/webhooks.md).
"""
