"""The browser tests' own checks can fail: a script the CSP blocks, an unlabelled field
and a control without a focus outline are each caught (tests/e2e/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .browser import Pages, axe_check, tab_to
from .conftest import _server

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
Page = sync_api.Page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def signin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sign-in page of one server for this module (the tests only read it)."""
    for server in _server(tmp_path_factory.mktemp("checks"), None):
        yield f"{server.url}/signin"


def test_a_script_the_csp_blocks_is_reported(signin_url: str, pages: Pages, page: Page
                                             ) -> None:
    page.goto(signin_url)
    assert pages.console(page).errors() == []
    page.evaluate("() => { const s = document.createElement('script');"
                  " s.textContent = 'document.title = \"injected\"'; document.body.append(s); }")
    page.wait_for_timeout(100)
    assert page.title() != "injected"
    errors = pages.console(page).errors()
    assert any("Content Security Policy" in e for e in errors), errors
    pages.console(page).said.clear()  # provoked on purpose: the teardown check stays quiet


def test_an_unlabelled_field_fails_the_accessibility_check(signin_url: str, page: Page
                                                           ) -> None:
    page.goto(signin_url)
    axe_check(page)
    page.evaluate("() => document.querySelector('label[for=f-email]').remove()")
    with pytest.raises(AssertionError, match=r"(?s)critical: label .*#f-email"):
        axe_check(page)
    axe_check(page, exclude=("#f-email",))


def test_a_control_without_a_focus_outline_fails_the_keyboard_walk(signin_url: str, page: Page
                                                                   ) -> None:
    page.goto(signin_url)
    page.evaluate("() => { document.querySelector('#f-password').style.outline = 'none'; }")
    tab_to(page, "#f-email")
    with pytest.raises(AssertionError, match="shows no outline"):
        tab_to(page, "#f-password")
