"""Start `python app.py` on a free localhost port, as a user would, for the app's tests."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: str  # path of the server's log

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self, field: str) -> int:
        """A /proc/<pid>/status field in kB (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def reset_peak(self) -> None:
        """Reset VmHWM (peak RSS) to the current RSS."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        return Path(self.log).read_text(errors="replace")


@contextlib.contextmanager
def launched_app(env: dict[str, str] | None = None, timeout: float = 240.0):
    """Yield the URL of a freshly launched app; the server is stopped afterwards."""
    with launched_server(env, timeout) as server:
        yield server.url


@contextlib.contextmanager
def launched_server(env: dict[str, str] | None = None, timeout: float = 240.0):
    """Yield a freshly launched app as a `Server`; it is stopped afterwards.

    Raises with the server's log when it exits or does not answer within `timeout` s.
    """
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="emoalign-app-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1"], cwd=REPO,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False",
             # the developer's own library stays out of tests and screenshots unless asked for
             "EMOALIGN_LIBRARY": str(Path(log.name).with_suffix(".no-library.db")),
             **(env or {})},
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}:\n{_tail(log.name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"app.py did not answer in {timeout:.0f} s:\n{_tail(log.name)}")
            time.sleep(0.5)
        print(f"app ready at {url} after {time.monotonic() - started:.1f} s (log {log.name})")
        yield Server(url, process, log.name)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tail(path: str, n: int = 40) -> str:
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
