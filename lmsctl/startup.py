"""The start of an ``lmsctl`` process: no cyclic garbage collection while modules load.

Loading Typer, SQLAlchemy's ORM and the models allocates hundreds of thousands of objects
that live as long as the process; the cyclic collector walks them again and again meanwhile,
and once more at exit. :func:`pause` (called by ``lmsctl.main.run``, the console script)
switches the collector off; :func:`resume`, called when the command opens its database
engine (start-up is over: the command's modules are loaded), moves every object alive then
into the collector's permanent generation (``gc.freeze``, never scanned again) and switches it
back on for the command's own work. About a sixth of ``lmsctl users list --json``'s start
(bench/cli_start.py). A process that never called :func:`pause` (tests running commands
in-process, the web app) is left alone.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Switch the cyclic collector off until :func:`resume` (if it was on)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """End start-up: freeze what is alive, switch the collector back on (if :func:`pause` did)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
