"""Background jobs: the ledger (``ledger``), the handlers by kind (``registry``).

``lms_core`` knows nothing of Huey: a service queues a job with :func:`ledger.enqueue` in its
caller's transaction (the outbox pattern), and a worker of any kind (``lmsctl jobs worker`` on
Huey, ``lmsctl jobs run-due`` from cron, a test) runs it with :func:`ledger.run_job`.
"""
