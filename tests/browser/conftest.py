"""Browser stories: a real `anfang demo run` process on a loopback port, a freshly seeded demo
database per backend, and Debian's Chromium driven by Playwright.

Every step a story takes is photographed (full page) under
test-artefacts/browser/<test>/NN-<step>.png; the pictures stay after the run, and a failing
test adds one of each open page at the moment it failed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

CHROMIUM = "/usr/bin/chromium"
# Exactly the flags of the issue: no sandbox (root in CI), nothing fetched in the background.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = PROJECT_ROOT / "test-artefacts" / "browser"
BIN = Path(sys.executable).parent
ANFANG = BIN / "anfang"
ANFANG_FIELD = BIN / "anfang-field"
# Playwright waits this long for an element or a page (ms); PDFs render on the server in a few seconds.
STEP_TIMEOUT_MS = 30_000
SERVER_START_SECONDS = 180


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: run `make install` (it installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run `make install` (test extra of setup.cfg)"
    return None


def _is_browser_test(item) -> bool:
    return Path(str(item.fspath)).parent == Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    # Like every other test, the stories run on SQLite and on PostgreSQL (when it answers).
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
    reason = _missing_browser()
    if reason is None:
        return
    # As for PostgreSQL: a developer without the browser is told why; under CI the `browser`
    # fixture fails every story with the same reason.
    if os.environ.get("CI") != "true":
        for item in items:
            if _is_browser_test(item):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# --- the server ----------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    password: str
    database_url: str
    environment: dict
    directory: Path

    def query(self, sql: str, **params) -> list:
        """Read the server's database directly: what the office knows without a page for it (who is on a team)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(sql), params))
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_database(database_url: str, directory: Path):
    """A database nobody else uses: a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{directory / 'browser.sqlite3'}", None
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_browser"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def _wait_for_health(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert process.poll() is None, "demo server exited:\n" + log.read_text()
        assert time.monotonic() < deadline, "demo server did not answer /healthz:\n" + log.read_text()
        time.sleep(0.5)


@pytest.fixture(scope="session")
def site(database_url, tmp_path_factory):
    """`anfang demo run` on a fresh database: migrations, reference data, the demo registry and a
    week of submitted inspections with findings, photos and notes — the demo `make demo` serves."""
    directory = tmp_path_factory.mktemp("browser-site")
    url, drop = _fresh_database(database_url, directory)
    # DAILY_JOBS empty: no daily job may close a draw under a story running across 00:05 Beijing.
    environment = dict(os.environ, DATABASE_URL=url, ANFANG_CONFIG="development", COLUMNS="200", DAILY_JOBS="",
                       EVIDENCE_DIR=str(directory / "evidence"))
    port = _free_port()
    log = directory / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen([str(ANFANG), "demo", "run", "--port", str(port)], env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base, process, log)
        password = re.search(r"密码均为 (\S+?)）", log.read_text()).group(1)
        yield Site(base, password, url, environment, directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drop is not None:
            drop()


# --- the browser ---------------------------------------------------------------------------------


FIELD_APP = PROJECT_ROOT / "field_app"


@pytest.fixture(scope="session")
def phone_app():
    """The phone app built into field_app/dist (what the server serves at /field/), rebuilt when a
    source file is newer than the bundle — `make field-app` does the same."""
    built = FIELD_APP / "dist" / "app.js"
    sources = [p for folder in ("src", "static") for p in (FIELD_APP / folder).rglob("*") if p.is_file()]
    sources += [FIELD_APP / "build.mjs", FIELD_APP / "package-lock.json"]
    stale = not built.exists() or max(p.stat().st_mtime for p in sources) > built.stat().st_mtime
    if stale:
        if not shutil.which("node") or not (FIELD_APP / "node_modules").is_dir():
            pytest.fail("field_app/dist is missing or older than its sources: run `make field-app`")
        subprocess.run(["node", "build.mjs"], cwd=FIELD_APP, check=True, capture_output=True, timeout=300)
    return FIELD_APP / "dist"


@pytest.fixture(scope="session")
def browser():
    reason = _missing_browser()
    if reason is not None:
        pytest.fail(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-") or "step"


@dataclass
class Story:
    """One test's browser sessions (one context per user) and its numbered screenshots."""

    browser: object
    site: Site
    folder: Path
    pages: list = field(default_factory=list)
    count: int = 0
    checked: Counter = field(default_factory=Counter)  # elements audited, by kind

    def snap(self, page, step: str, *, audit: bool = True) -> Path:
        """A full-page screenshot of the step, then the accessibility audit of the page shown."""
        from accessibility import assert_accessible

        self.count += 1
        path = self.folder / f"{self.count:02d}-{_slug(step)}.png"
        page.screenshot(path=str(path), full_page=True)
        if audit:
            self.checked.update(assert_accessible(page))
        return path

    def open_page(self):
        context = self.browser.new_context(base_url=self.site.url, locale="zh-CN", accept_downloads=True,
                                           viewport={"width": 1280, "height": 900})
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        self.pages.append(page)
        return page

    def login(self, username: str, page=None):
        """Log in through the real form; a fresh context per user keeps the sessions apart."""
        from playwright.sync_api import expect

        page = page or self.open_page()
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(self.site.password)
        self.snap(page, f"login-{username}")
        page.get_by_role("button", name="登录").click()
        # On a phone the button sits in the folded menu: present, not necessarily visible.
        expect(page.get_by_role("button", name="退出登录", include_hidden=True)).to_be_attached()
        self.snap(page, f"home-{username}")
        return page

    def open_phone(self, *, width: int = 390, height: int = 844, scale: float = 3):
        """A phone: small touch viewport, mobile user agent behaviour, GPS allowed (set per story)."""
        context = self.browser.new_context(
            base_url=self.site.url, locale="zh-CN", viewport={"width": width, "height": height},
            device_scale_factor=scale, is_mobile=True, has_touch=True, permissions=["geolocation"],
            service_workers="allow",
            user_agent=f"Mozilla/5.0 (Linux; Android 14; Pixel {width}) AppleWebKit/537.36 (KHTML, like Gecko)"
                       " Chrome/120.0 Mobile Safari/537.36")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        self.pages.append(page)
        return page

    def close(self) -> None:
        for context in dict.fromkeys(page.context for page in self.pages):  # a phone may have had several pages
            context.close()


@pytest.fixture
def story(request, browser, site):
    folder = ARTEFACTS / _slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    current = Story(browser, site, folder)
    try:
        yield current
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            for n, page in enumerate(current.pages, start=1):
                if not page.is_closed():
                    try:
                        current.snap(page, f"failure-page{n}", audit=False)
                    except Exception:  # the page may be the reason of the failure; keep the others
                        pass
        current.close()
