"""Background jobs on Huey: ``make_huey(settings)`` builds the queue, ``register_tasks`` adds tasks.

Nothing here builds a queue at import. The consumer entry point is :mod:`jobs.main`::

    huey_consumer jobs.main.huey -w 2 -k thread
"""
