"""Pages in the reader's language, from the real catalogs: the browser's Accept-Language,
a language chosen on the page (kept in a cookie), right-to-left scripts, and a
service's refusal explained in the reader's language rather than in English."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tenure import i18n
from tenure.bootstrap import Services
from tenure.http.app import create_app

BROWSER = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def client(runtime: Services) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("locale", ["de", "fr", "es", "ru", "ar", "fa"])
def test_the_sign_in_page_speaks_the_browser_language(client: TestClient, locale: str) -> None:
    page = client.get("/signin", headers={"Accept-Language": f"{locale};q=0.9, en;q=0.1"})
    assert page.status_code == 200
    heading = i18n.gettext(locale, "Sign in")
    assert heading != "Sign in"  # the catalog really translates it
    assert f"<h1>{heading}</h1>" in page.text
    assert f'lang="{locale}"' in page.text
    assert f'dir="{i18n.direction(locale)}"' in page.text


def test_a_language_chosen_on_the_page_is_kept(client: TestClient) -> None:
    chosen = client.get("/signin?lang=fr", headers={"Accept-Language": "de"})
    assert "tenure_lang=fr" in chosen.headers["set-cookie"]
    again = client.get("/signin", headers={"Accept-Language": "de"})
    assert 'lang="fr"' in again.text


def test_a_refusal_is_explained_in_the_reader_language(client: TestClient) -> None:
    form = client.get("/signin", headers={"Accept-Language": "de"})
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post("/signin", headers={**BROWSER, "Accept-Language": "de"},
                         data={"csrf": token, "email": "nobody@example.org",
                               "password": "not the password"})
    assert answer.status_code == 401
    german = i18n.gettext("de", "The email or password is not correct.")
    assert german != "The email or password is not correct."
    assert german in answer.text
    english = client.post("/signin", headers=BROWSER,
                          data={"csrf": token, "email": "nobody@example.org",
                                "password": "not the password"})
    assert "The email or password is not correct." in english.text


def test_changing_the_language_keeps_the_page_query(client: TestClient) -> None:
    page = client.get("/status?imei=490154203237518&statement=pasted&token=secret")
    assert '<input type="hidden" name="imei" value="490154203237518">' in page.text
    assert "pasted" not in page.text and "secret" not in page.text  # only what names the thing
    assert 'name="lang" value' not in page.text.split('class="lang"')[1].split("</form>")[0] \
        .split("<select")[0]
