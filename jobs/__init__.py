"""Background jobs on Huey: the queue carries wake-ups, the job ledger (``lms_core.jobs``) the work.

``make_huey(settings)`` builds the signed queue (:mod:`jobs.huey_app`, :mod:`jobs.signing`),
``register_tasks`` adds the tasks (:mod:`jobs.tasks`), :mod:`jobs.schedule` lists the periodic
jobs, :mod:`jobs.worker` is ``lmsctl jobs worker`` and :mod:`jobs.dispatch` ``jobs run-due``.
Nothing here builds a queue at import. The bare consumer entry point is :mod:`jobs.main`::

    huey_consumer jobs.main.huey -w 2 -k thread
"""
