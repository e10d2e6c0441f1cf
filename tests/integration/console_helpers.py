"""Helpers for the console's page tests: a browser (its own cookie jar, forms posted with
the CSRF token as a browser posts them) and a reader of what a page shows — its text,
its tables, its alerts, its links and images — parsed with the standard library."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.http.app import create_app
from tenure.web.security import CSRF_COOKIE, OPERATOR_COOKIE, SESSION_COOKIE

from .case_helpers import Agent

ORIGIN = "http://testserver"


class Page(HTMLParser):
    """What a person sees of a page: text, tables (rows of cell texts), alerts, links
    and images."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.tables: list[list[list[str]]] = []
        self.alerts: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self._chunks: list[str] = []
        self._cell: list[str] | None = None
        self._alert: list[str] | None = None
        self._alert_depth = 0
        self._skip = 0

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        found = cls()
        found.feed(response.text)
        found.text = " ".join(" ".join(found._chunks).split())
        return found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "title"):
            self._skip += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))
        if self._alert is not None:
            self._alert_depth += 1
        elif a.get("role") == "alert" or "alert" in (a.get("class") or "").split():
            self._alert, self._alert_depth = [], 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        if self._alert is not None:
            self._alert_depth -= 1
            if self._alert_depth == 0:
                self.alerts.append(" ".join(" ".join(self._alert).split()))
                self._alert = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._alert is not None:
            self._alert.append(data)

    def table_with(self, header: str) -> list[list[str]]:
        """The rows (header row first) of the first table whose header has `header`."""
        for table in self.tables:
            if table and header in table[0]:
                return table
        raise AssertionError(f"no table with a column {header!r}: {self.tables}")


class Browser:
    """One person's browser on the app: its own cookies; forms posted with the page's
    CSRF token and the headers a browser sends with a form (Origin, Sec-Fetch-Site), so
    the CSRF check is the one browsers meet."""

    def __init__(self, runtime: Services) -> None:
        self.client = TestClient(create_app(runtime), base_url=ORIGIN)

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        answer: httpx.Response = self.client.get(path, params=params or None,
                                                 follow_redirects=False)
        return answer

    def open(self, path: str, **params: Any) -> httpx.Response:
        """GET, following redirects (a person clicking a link)."""
        answer: httpx.Response = self.client.get(path, params=params or None)
        return answer

    def post(self, path: str, data: dict[str, str], follow: bool = True) -> httpx.Response:
        if CSRF_COOKIE not in self.client.cookies:
            self.client.get("/console/signin")
        form = {"csrf": self.client.cookies[CSRF_COOKIE], **data}
        answer: httpx.Response = self.client.post(
            path, data=form, follow_redirects=follow,
            headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"})
        return answer

    @property
    def session(self) -> str | None:
        value: str | None = self.client.cookies.get(SESSION_COOKIE)
        return value

    @property
    def operator(self) -> str | None:
        value: str | None = self.client.cookies.get(OPERATOR_COOKIE)
        return value

    def sign_in_agent(self, agent: Agent, clock: FixedClock, code: bool = True
                      ) -> httpx.Response:
        """The console's sign-in as this agent, with a fresh authenticator code (each
        code is accepted once: the clock moves to the next one)."""
        clock.advance(30)
        data = {"method": "agent", "email": agent.account.email,
                "password": agent.account.password, "next": "/console/cases"}
        if code:
            data["totp"] = agent.totp.at(clock.now())
        return self.post("/console/signin", data)

    def sign_in_key(self, key: str, next_page: str = "/console") -> httpx.Response:
        return self.post("/console/signin", {"method": "key", "api_key": key,
                                             "next": next_page})


def csv_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    return response.text


def path_of(response: httpx.Response) -> str:
    return re.sub(r"\?.*$", "", str(response.url.path))
