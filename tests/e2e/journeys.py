"""What the browser journeys (tests/e2e/test_browser_journey_*.py) share: signing up and
in through the pages, support agents with their second factor, a phone sold without
removal, a receipt to upload, and reading the links a person is mailed.

Every page a journey visits is scanned with axe-core (`seen`); the main ones are also
written to docs/screenshots/ for the README and the docs.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from email import message_from_bytes
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp

from tenure.agent import DeviceAgent

from .browser import Pages, axe_check, screenshot
from .conftest import TENURE, ServerProcess
from .test_activation_lock import PASSWORD, provision, register

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["PASSWORD", "provision", "register"]


def seen(page: Page, name: str | None = None) -> None:
    """Every page a journey visits passes the accessibility scan; the main ones are
    written to docs/screenshots/NAME.png."""
    axe_check(page)
    if name:
        screenshot(page, name)


def server_now(server: ServerProcess) -> int:
    return int(time.time() + float(server.clock_file.read_text() or 0))


def sign_up(page: Page, server: ServerProcess, email: str) -> None:
    """Through /signup, as a person does it: type, then Enter."""
    page.goto(f"{server.url}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")


def sign_in(page: Page, server: ServerProcess, email: str) -> None:
    page.goto(f"{server.url}/signin")
    seen(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{server.url}/")


def api_token(server: ServerProcess, email: str, totp: str | None = None) -> str:
    body = {"email": email, "password": PASSWORD, **({"totp": totp} if totp else {})}
    answer = httpx.post(f"{server.url}/v1/sessions", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def inbox(server: ServerProcess, to: str) -> list[dict[str, str]]:
    """The mail `to` has received so far, oldest first: the server's maintenance round
    sends what is due every second, into the development outbox (var/outbox)."""
    found = []
    for path in sorted((server.data_dir / "outbox").glob("*.eml"), key=os.path.getmtime):
        msg = message_from_bytes(path.read_bytes())
        if msg["To"] == to:
            body = msg.get_payload(decode=True)
            assert isinstance(body, bytes)
            found.append({"subject": str(msg["Subject"]), "body": body.decode()})
    return found


def wait_for_mail(server: ServerProcess, to: str, pattern: str, part: str = "body"
                  ) -> re.Match[str]:
    """The match of `pattern` in the newest mail to `to` whose `part` (body or subject)
    has one, waiting for the mail to arrive as a person does (a few seconds at most);
    `.string` is that whole part."""
    deadline = time.monotonic() + 15
    while True:
        for mail in reversed(inbox(server, to)):
            found = re.search(pattern, mail[part], re.MULTILINE)
            if found:
                return found
        assert time.monotonic() < deadline, f"nothing like {pattern!r} was mailed to {to}"
        time.sleep(0.2)


def mailed_link(server: ServerProcess, to: str, path: str) -> str:
    """The newest link to `path` on this server mailed to `to` (the server knows its
    public address, so the link is one a person can open)."""
    return wait_for_mail(server, to, rf"{re.escape(server.url + path)}\S*").group(0)


def mailed_code(server: ServerProcess, to: str, label: str) -> str:
    """A code or token standing on its own line after `Code:` or `Token:`."""
    return wait_for_mail(server, to, rf"^{label}:\n(\S+)$").group(1)


def support_agents(server: ServerProcess, *emails: str) -> list[pyotp.TOTP]:
    """Accounts with their second factor on, given the support role on the CLI (the
    commands run side by side); the caller moves the clock on before signing in, as a
    code is accepted once."""
    codes = []
    for email in emails:
        register(server, email)
        auth = {"Authorization": f"Bearer {api_token(server, email)}"}
        made = httpx.post(f"{server.url}/v1/me/totp", headers=auth)
        totp = pyotp.TOTP(made.json()["secret"])
        confirmed = httpx.post(f"{server.url}/v1/me/totp/confirm", headers=auth,
                               json={"code": totp.at(server_now(server))})
        assert confirmed.status_code == 200, confirmed.text
        codes.append(totp)
    added = [subprocess.Popen([TENURE, "support", "add", email], env=server.env,
                              stdout=subprocess.PIPE, text=True) for email in emails]
    for command in added:
        out, _ = command.communicate(timeout=120)
        assert command.returncode == 0 and "is a support agent" in out, out
    return codes


def sold_without_removal(server: ServerProcess, tmp_path: Path, name: str, seller: str
                         ) -> DeviceAgent:
    """The seller binds the phone, then sells it reset but still linked: whoever has it
    now is locked out, and the lock screen says so."""
    phone = provision(server, tmp_path, name)
    assert phone.activate()["status"] == "activated"
    register(server, seller)
    phone.bind(phone.sign_in(seller, PASSWORD))
    phone.factory_reset()
    assert phone.activate()["status"] == "locked"
    assert "LOCKED" in phone.lock_screen()
    return phone


RECEIPT = """<!doctype html><html><body style="margin:0;font:15px/1.45 sans-serif">
<div style="width:320px;padding:18px 22px;background:#fffdf5;border:1px dashed #999">
<h1 style="font-size:19px;margin:0 0 6px">Market stall 12</h1>
<p style="margin:0 0 10px;color:#555">Flea market, Mauerpark, Berlin</p>
<p style="margin:0">Receipt no. 2025-1001 &middot; 1 October 2025</p>
<hr><p style="margin:0">Tenure Phone 1, used<br>IMEI {imei}</p>
<p style="margin:8px 0 0;font-weight:bold">Total: EUR 180.00 (cash)</p></div></body></html>"""


def receipt_png(pages: Pages, imei: str) -> bytes:
    """A photographed receipt, as a buyer would upload it: drawn by the browser."""
    drawing = pages.open(viewport={"width": 400, "height": 300})
    drawing.set_content(RECEIPT.format(imei=imei))
    png = drawing.locator("div").screenshot(type="png")
    drawing.close()
    return png
