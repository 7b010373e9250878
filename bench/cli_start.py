"""How fast ``lmsctl`` starts, against the cost of merely importing its two big dependencies.

What: the wall time of three fresh processes, measured in the same run with the same Python,
several times each (interleaved, after one warm-up each), reporting medians:

* baseline: ``python -c "import typer, sqlalchemy"``, the floor any Typer + SQLAlchemy CLI pays;
* ``lmsctl --help``: should load Typer and the command table only (the command groups are
  imported lazily), so it should cost about the baseline or less;
* ``lmsctl --database sqlite:///TMP/x.db users list --json`` on an empty, migrated SQLite
  database: a real command (settings, engine, models, one query), which may cost more; its
  goal is at most 2x the baseline. It loads no Pydantic (plain option values skip Typer's
  Pydantic coercion, lmsctl/quickparams.py; the engine's settings are read without the full
  settings model when the environment is plain, lms_core/settings_env.py), no other
  database's dialect (lms_core/models/partial_index.py), and runs no cyclic garbage
  collection while its modules load (lmsctl/startup.py).

Why: ``lmsctl`` is run by people at a prompt and by scripts in loops; a slow start (an eager
import of Flask, fpdf2, passlib or email-validator, say) is paid on every call. Ratios against
a baseline measured in the same run keep the figures comparable across machines and load.

When the ``--help`` ratio misses (or with ``--importtime``), the heaviest imports
(``python -X importtime``) are printed so the offender is easy to find.

Exit status: 0 when the benchmark ran, whether targets pass or miss (the ``target`` lines say
which); non-zero when it could not run (a command failed or printed something unexpected).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HELP_GOAL = 1.3
USERS_LIST_GOAL = 2.0
BASELINE_CODE = "import typer, sqlalchemy"


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]


def lmsctl_command() -> list[str]:
    """The venv's console script next to ``sys.executable``, else one on PATH, else ``-c``."""
    exe_dir = Path(sys.executable).parent
    for candidate in (exe_dir / "lmsctl", exe_dir / "lmsctl.exe"):
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which("lmsctl")
    if found:
        return [found]
    return [sys.executable, "-c", "from lmsctl.main import run; run()"]


def with_python_flags(command: list[str], flags: Sequence[str]) -> list[str]:
    """``command`` run by ``sys.executable`` with interpreter ``flags`` (e.g. ``-X importtime``)."""
    if command[0] == sys.executable:
        return [sys.executable, *flags, *command[1:]]
    return [sys.executable, *flags, *command]  # a console script is a Python file


def clean_env(tmp: Path) -> dict[str, str]:
    """The caller's environment without LMS_* settings, files kept inside ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LMS_") and k != "PYTHONPROFILEIMPORTTIME"
    }
    env["LMS_FILES_DIR"] = str(tmp / "files")
    return env


def run_once(argv: list[str], *, env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.strip()}")
    return elapsed, proc.stdout


def measure(
    cases: list[Case], reps: int, *, env: dict[str, str], cwd: Path
) -> dict[str, list[float]]:
    """Run every case ``reps`` times, rotating the order so drift and load hit them all alike."""
    for case in cases:  # warm-up: bytecode caches, page cache
        run_once(case.argv, env=env, cwd=cwd)
    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for rep in range(reps):
        shift = rep % len(cases)
        for case in cases[shift:] + cases[:shift]:
            elapsed, _ = run_once(case.argv, env=env, cwd=cwd)
            times[case.name].append(elapsed)
    return times


def importtime_report(
    label: str, argv: list[str], *, env: dict[str, str], cwd: Path, top: int = 15
) -> str:
    """The heaviest imports of one run of ``argv``: per top-level package, and per module."""
    proc = subprocess.run(
        with_python_flags(argv, ["-X", "importtime"]),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    rows: list[tuple[int, int, int, str]] = []  # (self us, cumulative us, depth, module)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # two spaces per nesting level
        rows.append((int(head.split(":", 1)[1]), int(cumulative), depth, name.strip()))
    by_package: dict[str, int] = defaultdict(int)
    for self_us, _, _, module in rows:
        by_package[module.split(".")[0]] += self_us
    total_ms = sum(by_package.values()) / 1000
    lines = [
        f"  import time of `{label}`: {total_ms:.0f} ms in {len(rows)} modules",
        "  by top-level package (self time summed):",
    ]
    for package, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {us / 1000:8.1f} ms  {package}")
    lines.append("  heaviest first- and second-level imports (cumulative):")
    shallow = [r for r in rows if r[2] <= 1]
    for _, cumulative_us, depth, module in sorted(shallow, key=lambda r: -r[1])[:top]:
        lines.append(f"    {cumulative_us / 1000:8.1f} ms  {'  ' * depth}{module}")
    return "\n".join(lines)


def target(name: str, value: float, goal: float, *, lower_is_better: bool) -> str:
    ok = value <= goal if lower_is_better else value >= goal
    op = "<=" if lower_is_better else ">="
    return f"target {name}: {value:.2f} (goal {op} {goal:.1f}) {'PASS' if ok else 'MISS'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI smoke test)")
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions per command (default 15, quick 3)"
    )
    parser.add_argument(
        "--importtime",
        action="store_true",
        help="always print the import-time breakdown, not only on a miss",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 15)

    lmsctl = lmsctl_command()
    with tempfile.TemporaryDirectory(prefix="lms-bench-cli-") as tmp_name:
        tmp = Path(tmp_name)
        env = clean_env(tmp)
        url = f"sqlite:///{tmp / 'x.db'}"
        run_once([*lmsctl, "--database", url, "init"], env=env, cwd=tmp)
        list_argv = [*lmsctl, "--database", url, "users", "list", "--json"]
        _, out = run_once(list_argv, env=env, cwd=tmp)
        if json.loads(out) != []:
            raise RuntimeError(f"users list on an empty database printed {out!r}")

        cases = [
            Case("baseline", [sys.executable, "-c", BASELINE_CODE]),
            Case("help", [*lmsctl, "--help"]),
            Case("users_list", list_argv),
        ]
        print(f"lmsctl: {' '.join(lmsctl)}")
        print(
            f"python: {sys.version.split()[0]}, {os.cpu_count()} cpu(s), {reps} repetitions "
            f"per command (medians){' [quick]' if args.quick else ''}"
        )
        times = measure(cases, reps, env=env, cwd=tmp)
        med = {name: statistics.median(values) for name, values in times.items()}
        labels = {
            "baseline": f'python -c "{BASELINE_CODE}"',
            "help": "lmsctl --help",
            "users_list": "lmsctl users list --json (empty SQLite)",
        }
        for name, values in times.items():
            print(
                f"  {labels[name]:<42} median {med[name] * 1000:7.1f} ms  "
                f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"
            )
        help_ratio = med["help"] / med["baseline"]
        list_ratio = med["users_list"] / med["baseline"]
        print(f"  ratio --help / baseline:      {help_ratio:.2f}")
        print(f"  ratio users list / baseline:  {list_ratio:.2f}")

        if args.importtime or help_ratio > HELP_GOAL:
            print(importtime_report(labels["help"], cases[1].argv, env=env, cwd=tmp))
        if args.importtime or list_ratio > USERS_LIST_GOAL:
            print(importtime_report(labels["users_list"], list_argv, env=env, cwd=tmp))

    print(target("cli_help_ratio", help_ratio, HELP_GOAL, lower_is_better=True))
    print(target("users_list_ratio", list_ratio, USERS_LIST_GOAL, lower_is_better=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
