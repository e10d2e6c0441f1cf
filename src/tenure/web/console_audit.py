"""Console: the audit trail for operators with an `admin` key (services/audit_search.py):
filters, a page at a time, and a CSV export of what the filters find.

The export is streamed in chunks of its own short transactions, newest event first,
and stops after MAX_EXPORT events (the page says so); narrowing the time range reaches
older ones. Spreadsheet programs run a cell that starts with = + - or @ as a formula,
so such a cell is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tenure.domain.errors import InvalidInput
from tenure.http.deps import app_services
from tenure.services.audit_search import MAX_EXPORT, cursor_text, read_filter
from tenure.services.ports import AuditEntry, AuditFilter

from .console import HOME, console_page, failure
from .session import operator_key

FIELDS = ("stream", "action", "actor", "from", "to")
COLUMNS = ("time_utc", "at", "stream", "seq", "actor", "action", "data")
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _form(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in FIELDS}


async def audit(request: Request) -> Response:
    rt = app_services(request)
    key = operator_key(request)
    form = _form(request)
    try:
        where = read_filter(request.query_params)
    except InvalidInput as exc:
        await run_in_threadpool(rt.api_keys.require_role, key, "admin")
        status, detail = failure(exc)
        return await console_page(request, "console/audit.html", status=status, form=form,
                                  error=detail, found=None, limit=MAX_EXPORT)
    found = await run_in_threadpool(rt.audit_search.page, key, where)
    query = urlencode({k: v for k, v in form.items() if v})
    older = (urlencode({**{k: v for k, v in form.items() if v},
                        "before": cursor_text(found.next_before)})
             if found.next_before else None)
    return await console_page(request, "console/audit.html", form=form, found=found,
                              query=query, older=older, limit=MAX_EXPORT,
                              paged=where.before is not None)


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA) else text


def _line(entry: AuditEntry | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if entry is None:
        writer.writerow(COLUMNS)
    else:
        when = dt.datetime.fromtimestamp(entry.at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow([when, entry.at, *map(_cell, (entry.stream, entry.seq, entry.actor,
                                                      entry.action, entry.data))])
    return out.getvalue()


async def export(request: Request) -> Response:
    rt = app_services(request)
    key = operator_key(request)
    try:
        where = replace(read_filter(request.query_params), before=None)
    except InvalidInput:
        await run_in_threadpool(rt.api_keys.require_role, key, "admin")
        raise
    # The first chunk is read before answering: a refused key or a bad filter is an
    # error page, not a broken download.
    first = await run_in_threadpool(rt.audit_search.chunk, key, where)

    async def rows() -> AsyncIterator[str]:
        yield _line(None)
        chunk, sent = first, 0
        while chunk:
            for entry in chunk[:MAX_EXPORT - sent]:
                yield _line(entry)
            sent += len(chunk)
            if sent >= MAX_EXPORT:
                return
            last = chunk[-1]
            after: AuditFilter = replace(where, before=(last.at, last.stream, last.seq))
            chunk = await run_in_threadpool(rt.audit_search.chunk, key, after)

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="tenure-audit.csv"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


routes = [
    Route(f"{HOME}/audit", audit, methods=["GET"]),
    Route(f"{HOME}/audit.csv", export, methods=["GET"]),
]
