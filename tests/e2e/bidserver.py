"""A real sunbid server in a subprocess (``python -m sunbid.cli serve``) on 127.0.0.1, for the bid must-show tests.

The server shares the test's data directory and database (SQLite file or the PostgreSQL test schema) through the
``SUNBID_*`` environment, runs on the real clock, writes its JSON log to a file and can be stopped or killed
(SIGKILL, like a power cut) and started again on the same data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sunbid.platform.settings import Settings

START_TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment that makes a server process use the test's deployment (worker off, JSON logs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUNBID_")}
    env.update(
        {
            "SUNBID_DATA_DIR": str(settings.data_dir),
            "SUNBID_DATABASE_URL": settings.resolved_database_url,
            "SUNBID_CRYPTO_SUITE": settings.crypto_suite,
            "SUNBID_EMBEDDED_WORKER": "false",
            "SUNBID_LOG_JSON": "true",
            "SUNBID_LOG_LEVEL": "INFO",
            "SUNBID_CONFIG": str(tmp_path / "no-such-sunbid.toml"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


@dataclass
class Server:
    """One server process; ``url`` is its base URL."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/ready", timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server not ready in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no clean-up (``kill -9``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


def start_server(
    env: dict[str, str], log_path: Path, *, port: int | None = None, crash: str | None = None, wait: bool = True
) -> Server:
    """Start ``sunbid serve`` with ``env`` on 127.0.0.1 (a free port unless given); wait until it is ready.

    With ``crash`` (a mode of :mod:`tests.e2e.crash_server`) the server dies hard at that point of a submission.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if crash is None:
        cmd = [sys.executable, "-m", "sunbid.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "tests.e2e.crash_server", crash, "--port", str(port)]
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log_path)
    if wait:
        server.wait_ready()
    return server
