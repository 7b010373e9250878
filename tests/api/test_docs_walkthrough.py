"""docs/api.md's walkthrough runs as written: every ```sh block, in order, in one bash, with
curl against ``lmsctl serve`` on a seeded scratch database; every line exits 0."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.integration.conftest import BIN

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_MARK = "__DOC_LINE__"


def doc_lines() -> list[tuple[int, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, str]] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        if line.strip() == "```sh":
            inside = True
        elif line.strip() == "```":
            inside = False
        elif inside and line.strip():
            found.append((number, line))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_walkthrough_runs(seeded: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    env = {**seeded, "LMS_API": f"http://127.0.0.1:{port}/api/v1"}
    server = subprocess.Popen(
        [str(BIN / "lmsctl"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "lmsctl serve did not start"
                time.sleep(0.2)
        script = ["set +e"]
        for number, line in doc_lines():
            script += [line, f'echo "{_MARK} {number} $?" >&2']
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    codes = {
        int(n): int(c)
        for _, n, c in (x.split() for x in done.stderr.splitlines() if x.startswith(_MARK))
    }
    assert len(codes) == len(doc_lines()) >= 15, done.stderr
    failed = {n: c for n, c in codes.items() if c != 0}
    assert not failed, f"docs/api.md lines that failed: {failed}\n{done.stdout}\n{done.stderr}"
    assert "3.1.0" in done.stdout
    assert '"outcome":"unchanged"' in done.stdout.replace(" ", "")
    assert "403\n" in done.stdout  # the scope refusal's status line
    assert '"status":"valid"' in done.stdout.replace(" ", "")
