"""`GET /openapi.json` and `GET /docs`: the contract for machines and for people.

The page is rendered on the server from the same document, so it cannot say anything
the JSON does not. It has no script and loads nothing from elsewhere; its one style
block is allowed by hash in a Content-Security-Policy that forbids everything else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .openapi import COMPONENTS, document

METHODS = ("get", "head", "post", "put", "patch", "delete")
STYLE = ("body{font:15px/1.45 system-ui,sans-serif;max-width:62rem;margin:2rem auto;"
         "padding:0 1rem;color:#111}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}"
         "h3{font-family:monospace;font-size:1.05rem;margin:1.8rem 0 .3rem}"
         ".m{display:inline-block;min-width:4.2rem;font-weight:700}"
         "pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;font-size:13px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;"
         "text-align:left;vertical-align:top}code{font-size:13px}")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")


def _anchor(method: str, path: str) -> str:
    return (method + path).replace("/", "-").replace("{", "").replace("}", "")


def _schema(schema: Any) -> str:
    """A schema as indented JSON, with each component reference linked to its section."""
    text = escape(json.dumps(schema, indent=2, ensure_ascii=False))
    for name in COMPONENTS["schemas"]:
        ref = escape(json.dumps(f"#/components/schemas/{name}"))
        text = text.replace(ref, f'<a href="#schema-{name}">{ref}</a>')
    return f"<pre>{text}</pre>"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f'<h3 id="{_anchor(method, path)}"><span class="m">{method.upper()}</span>'
           f"{escape(path)}</h3>", f"<p>{escape(op.get('summary', ''))}</p>"]
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    for requirement in op.get("security", []):
        out.append("<p>Authorization: " + ", ".join(
            f"<code>{escape(name)}</code>" for name in requirement) + " (bearer)</p>")
    if op.get("parameters"):
        out.append("<table><tr><th>parameter</th><th>in</th><th>required</th>"
                   "<th>schema</th></tr>")
        for p in op["parameters"]:
            out.append(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}"
                       f"</td><td>{'yes' if p.get('required') else 'no'}</td><td><code>"
                       f"{escape(json.dumps(p['schema']))}</code></td></tr>")
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        for media, content in body["content"].items():
            out.append(f"<p>Request body <code>{escape(media)}</code>:</p>")
            out.append(_schema(content.get("schema", {})))
    out.append("<table><tr><th>status</th><th>answer</th></tr>")
    problems = op.get("x-problem-types", {})
    for status, response in op["responses"].items():
        if status in problems:
            cell = "<code>application/problem+json</code> " + ", ".join(
                f"<code>{escape(t)}</code>" for t in problems[status])
        else:
            cell = escape(response.get("description", ""))
            for media, content in response.get("content", {}).items():
                cell += f"<br><code>{escape(media)}</code>" + _schema(content.get("schema"))
            for header in response.get("headers", {}):
                cell += f"<br>header <code>{escape(header)}</code>"
        out.append(f"<tr><td>{escape(status)}</td><td>{cell}</td></tr>")
    out.append("</table>")
    return out


def render(doc: dict[str, Any]) -> str:
    info = doc["info"]
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{escape(info['title'])} API</title><style>{STYLE}</style></head><body>",
           f"<h1>{escape(info['title'])} API, version {escape(info['version'])}</h1>",
           f"<p>{escape(info['description'])}</p>",
           '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> '
           f"(OpenAPI {escape(doc['openapi'])}).</p>"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc["paths"].items():
        for method in METHODS:
            if method in methods:
                op = methods[method]
                by_tag.setdefault(op.get("tags", ["other"])[0], []).append((method, path, op))
    out.append("<nav><ul>")
    for tag, ops in by_tag.items():
        out.append(f"<li>{escape(tag)}: " + ", ".join(
            f'<a href="#{_anchor(m, p)}">{m.upper()} {escape(p)}</a>' for m, p, _ in ops)
            + "</li>")
    out.append('<li><a href="#schemas">schemas</a></li></ul></nav>')
    for tag, ops in by_tag.items():
        out.append(f"<h2>{escape(tag)}</h2>")
        for method, path, op in ops:
            out.extend(_operation(method, path, op))
    out.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in doc["components"]["schemas"].items():
        out.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{_schema(schema)}')
    out.append("</body></html>")
    return "\n".join(out)


async def openapi_json(_: Request) -> Response:
    return JSONResponse(document(), headers={"Cache-Control": "public, max-age=300"})


@functools.cache
def _page() -> str:
    return render(document())


async def docs_page(_: Request) -> Response:
    return HTMLResponse(_page(), headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=300"})


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
]
