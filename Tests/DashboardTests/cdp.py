"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (fds 3 and 4, NUL-separated JSON): no
websocket library, no network. Every wait has a deadline."""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any


class CDPError(RuntimeError):
    pass


@dataclass
class Browser:
    """Headless Chromium driven over a pipe; one page, attached in flat mode."""

    process: subprocess.Popen
    write_fd: int
    read_fd: int
    session: str = ""
    next_id: int = 1
    buffer: bytes = b""
    events: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def launch(executable: str, profile: str) -> "Browser":
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # The child sees the read end of our commands as fd 3 and writes its answers to fd 4 (moved above 10 first,
        # so that placing one cannot overwrite the other).
        def place() -> None:
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)
        args = [executable, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
                "--window-size=1280,900", "about:blank"]
        # close_fds=False: fds 3 and 4 are placed after subprocess would close them; every other descriptor of this
        # process is close-on-exec (PEP 446), so the child gets nothing else.
        process = subprocess.Popen(args, preexec_fn=place, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        browser = Browser(process, to_browser_w, from_browser_r)
        target = browser.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        browser.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                       session=False)["sessionId"]
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        return browser

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self.write_fd, self.read_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = True,
             timeout: float = 30) -> dict[str, Any]:
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.next_id += 1
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.write_fd, data):]
        deadline = time.monotonic() + timeout
        while True:
            for reply in self._read(deadline, method):
                if reply.get("id") == message["id"]:
                    if "error" in reply:
                        raise CDPError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)

    def _read(self, deadline: float, what: str) -> list[dict[str, Any]]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CDPError(f"{what}: no answer from the browser in time")
        ready, _, _ = select.select([self.read_fd], [], [], left)
        if not ready:
            raise CDPError(f"{what}: no answer from the browser in time")
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            raise CDPError(f"{what}: the browser closed the pipe (exit {self.process.poll()})")
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\0")
        return [json.loads(m) for m in complete if m]

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JS expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Polls a JS expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(0.2)
        raise CDPError(f"{what or expression[:100]}: not true within {timeout} s (last {last!r})")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
