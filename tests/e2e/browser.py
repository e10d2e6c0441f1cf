"""Browser tests: Playwright drives Debian's chromium against real `tenure serve`
processes, the way a person's browser meets the pages — keyboard, cookies, CSP, language.

What every browser test gets (fixtures in tests/e2e/conftest.py):

- `browser`: one headless chromium per test process (per xdist worker), started on first
  use; the tests skip, saying why, when chromium or Playwright is missing (`make test`
  installs chromium with apt-get when it runs as root or with sudo).
- `page`: a fresh context (no cookies, 1280×800, English) per test; `pages.open(...)`
  opens more, e.g. `pages.open(locale="ar")` for a browser that asks for Arabic.
  Every console error and uncaught exception of these pages fails the test at teardown:
  a script the CSP blocked, a missing stylesheet and a broken script all show up there.

Helpers: `axe_check(page)` (WCAG 2.0/2.1 A and AA scan with axe-core from
tests/e2e/node), `screenshot(page, name)` (docs/screenshots/NAME.png) and
`tab_to(page, selector)` (reach a control with the keyboard, every stop visibly focused).

The CSP stays enforced: axe-core is evaluated through the DevTools protocol, which the
page's `script-src 'self'` does not govern, instead of being added as a <script> (that
would need `bypass_csp`, which would also hide every CSP violation the pages make).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TENURE_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# Quiet and offline: no first-run UI, no update or sync traffic, no GPU; no sandbox, as
# CI runs the tests as root (the pages are our own).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TIMEOUT_MS = 10_000


@contextmanager
def launch() -> Iterator[Browser]:
    """Headless chromium, or a skip that says what to install."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need chromium at {CHROMIUM}: `make browser` (as root or "
                    "with sudo) or `apt-get install chromium chromium-driver`")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


FAILED_LOAD = "Failed to load resource: the server responded with a status of"


@dataclass
class Console:
    """What one page's console said, less what a browser says about any site: a page
    answered with an error status on purpose (a form sent back with 401 or 422, a 404
    page) and the favicon the browser asks for by itself."""

    said: list[tuple[str, str]] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)

    def errors(self) -> list[str]:
        return [f"{text} ({url})" if url else text for text, url in self.said
                if not (text.startswith(FAILED_LOAD) and (
                    url in self.error_documents or url.endswith("/favicon.ico")))]


@dataclass
class Pages:
    """The pages a test opened, each in its own context, and what their consoles said."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    _watched: list[tuple[Page, Console]] = field(default_factory=list)

    def open(self, **options: Any) -> Page:
        """A page in a new context; `options` are Playwright's `new_context` arguments
        (`locale="ar"` also sends `Accept-Language: ar`)."""
        context = self.browser.new_context(**{"viewport": VIEWPORT, "locale": "en-US",
                                              **options})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        console = Console()
        self._watched.append((page, console))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                console.said.append((message.text, message.location.get("url", "")))

        def on_response(response: Response) -> None:
            if response.status >= 400 and response.request.resource_type == "document":
                console.error_documents.add(response.url)

        page.on("console", on_console)
        page.on("response", on_response)
        page.on("pageerror",
                lambda exc: console.said.append((f"uncaught {exc.name}: {exc.message}", "")))
        return page

    def console(self, page: Page) -> Console:
        """What `page` said so far (a test that provokes an error on purpose clears
        `console(page).said`)."""
        return next(console for watched, console in self._watched if watched is page)

    def close(self) -> None:
        """Fail on any console error, then close every context."""
        found = [e for _, console in self._watched for e in console.errors()]
        for context in self.contexts:
            context.close()
        assert not found, "the browser reported errors:\n  " + "\n  ".join(found)


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_check(page: Page, exclude: tuple[str, ...] = ()) -> None:
    """Scan the page as it is now with axe-core (WCAG 2.0 and 2.1, levels A and AA) and
    fail on every serious or critical violation, each with its rule, help text and the
    elements it found. `exclude` takes CSS selectors to leave out (say why at the call)."""
    if not AXE.exists():
        pytest.skip("the accessibility check needs axe-core: `make node-packages` "
                    "(npm ci --prefix tests/e2e/node)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations = page.evaluate(
        "([exclude, tags]) => axe.run(exclude.length ? {exclude: exclude.map(s => [s])}"
        " : document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " helpUrl: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target,"
        " failureSummary: n.failureSummary}))})))",
        [list(exclude), AXE_TAGS])
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    lines = []
    for v in bad:
        lines.append(f"{v['impact']}: {v['id']} — {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}"
                         .replace("\n", " "))
    assert not bad, f"axe-core found accessibility violations on {page.url}:\n" + "\n".join(lines)


def screenshot(page: Page, name: str) -> Path | None:
    """Write docs/screenshots/NAME.png: the full page at 1280 px wide, no caret, no
    animation, so that the same page renders the same bytes. The file is only rewritten
    when the picture changed; TENURE_SCREENSHOTS=0 turns writing off."""
    if os.environ.get("TENURE_SCREENSHOTS", "1") == "0":
        return None
    png = page.screenshot(full_page=True, animations="disabled", caret="hide", type="png")
    target = SCREENSHOTS / f"{name}.png"
    if target.exists() and target.read_bytes() == png:
        return target
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{name}.{os.getpid()}.png")  # two workers may write at once
    partial.write_bytes(png)
    partial.replace(target)
    return target


def tab_to(page: Page, selector: str, limit: int = 25) -> list[str]:
    """Press Tab until `selector` has the focus, as a keyboard user would; every stop on
    the way must show a focus outline. Returns the stops (tag#id or text) for messages."""
    target = page.locator(selector)
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(
            "() => { const e = document.activeElement, s = getComputedStyle(e);"
            " return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' '"
            " + (e.innerText || e.getAttribute('name') || '').trim().slice(0, 30),"
            " s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0]; }")
        stops.append(stop[0])
        assert stop[1], f"{stop[0]!r} has the keyboard focus but shows no outline"
        if target.evaluate("e => e === document.activeElement"):
            return stops
    raise AssertionError(f"{selector} was not reached in {limit} Tab presses: {stops}")
