"""A real uvicorn server in a thread and headless Chromium through Playwright, for e2e tests."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from sync.bootstrap import App
from sync.entrypoints.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def playwright_or_skip() -> Any:
    """Playwright's sync API, or a skip that says what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium and chromium-driver")
    return sync_playwright


def launch(p: Any) -> Any:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    return p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


class WebServer:
    """uvicorn serving `create_app` in a thread, as the daemon does."""

    def __init__(self, app: App, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(create_app(app), host="127.0.0.1", port=self.port,
                                log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
