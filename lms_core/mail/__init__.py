"""E-mail: templates, the outbox written with the change that causes a mail, SMTP sending.

* :mod:`lms_core.mail.render`: Jinja2 templates (text and HTML, autoescaped) and the links.
* :mod:`lms_core.mail.outbox`: ``queue_mail`` (a service: flush, never commit).
* :mod:`lms_core.mail.delivery`: sending one outbox row (the ``mail.send`` job), and the
  synchronous ``lmsctl email test``.
* :mod:`lms_core.mail.smtp`: smtplib, and what a retry can fix.

docs/email.md describes the settings and the statuses.
"""
