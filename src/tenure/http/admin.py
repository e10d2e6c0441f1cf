"""Admin router: factory import for API keys with the `factory` role."""

from __future__ import annotations

import tempfile

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenure.domain.errors import ImportAborted, InvalidInput, NotFound, TooLarge
from tenure.services.provision import detect_format

from .bodies import bearer, read_json_object
from .deps import app_services

MAX_IMPORT_BYTES = 2 * 1024**3
MAX_POLICY_VERSION = 2**31 - 1  # policy_versions.version is a 32-bit INTEGER


async def import_devices(request: Request) -> Response:
    rt = app_services(request)
    key = await run_in_threadpool(rt.api_keys.require_role, bearer(request), "factory")
    skip_invalid = request.query_params.get("skip_invalid", "").lower() in ("1", "true", "yes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024**2) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_IMPORT_BYTES:
                raise TooLarge("Import files are limited to 2 GiB; split the file.")
            spool.write(chunk)
        spool.seek(0)
        head = spool.read(64)
        spool.seek(0)
        fmt = "jsonl" if "json" in media else "csv" if "csv" in media else detect_format("", head)
        report = await run_in_threadpool(
            rt.importer.run, spool, fmt, f"apikey:{key.key_id}", skip_invalid,
            "http")
    if not report.committed:
        raise ImportAborted(f"{report.invalid} invalid rows; nothing was imported.",
                            **report.as_json())
    return JSONResponse(report.as_json())


routes = [Route("/v1/admin/devices/import", import_devices, methods=["POST"])]


# -- territory policy (role `policy`) ------------------------------------------------------

async def _policy_key(request: Request) -> str:
    rt = app_services(request)
    key = await run_in_threadpool(rt.api_keys.require_role, bearer(request), "policy")
    return f"apikey:{key.key_id}"


async def _text(request: Request) -> str:
    from .bodies import read_capped

    body = await read_capped(request, 1024 * 1024)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        from tenure.domain.errors import Malformed

        raise Malformed("The policy must be UTF-8 TOML text.") from exc


async def policy_active(request: Request) -> Response:
    await _policy_key(request)
    rt = app_services(request)
    entry = await run_in_threadpool(rt.policies.document, None)
    return JSONResponse({"version": entry.version, "document": entry.document,
                         "author": entry.author, "reason": entry.reason,
                         "created_at": entry.created_at})


async def policy_versions(request: Request) -> Response:
    await _policy_key(request)
    rt = app_services(request)
    entries = await run_in_threadpool(rt.policies.history)
    return JSONResponse({"versions": [
        {"version": e.version, "author": e.author, "reason": e.reason,
         "created_at": e.created_at, "sha256": e.sha256, "rollback_of": e.rollback_of}
        for e in entries]})


async def policy_validate(request: Request) -> Response:
    await _policy_key(request)
    from tenure.services.policy import parse_document

    policy = parse_document(await _text(request))
    return JSONResponse({"valid": True, "rules": len(policy.rules),
                         "markets": sorted(policy.markets), "evidence": policy.evidence})


async def policy_dry_run(request: Request) -> Response:
    await _policy_key(request)
    rt = app_services(request)
    impact = await run_in_threadpool(rt.policies.preview, await _text(request))
    return JSONResponse(impact.as_json())


async def policy_apply(request: Request) -> Response:
    author = await _policy_key(request)
    rt = app_services(request)
    text = await _text(request)
    reason = request.query_params.get("reason", "")
    entry = await run_in_threadpool(rt.policies.apply, text, author, reason)
    return JSONResponse({"version": entry.version, "sha256": entry.sha256}, status_code=201)


async def policy_rollback(request: Request) -> Response:
    author = await _policy_key(request)
    rt = app_services(request)
    data = await read_json_object(request, 64 * 1024)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput("'version' must be the number of an earlier policy version.")
    if not 1 <= version <= MAX_POLICY_VERSION:
        # Past what the column holds no version exists; asking the database would fail.
        raise NotFound(f"there is no policy version {version}")
    raw_reason = data.get("reason")
    reason = raw_reason if isinstance(raw_reason, str) else ""
    entry = await run_in_threadpool(rt.policies.rollback, version, author, reason)
    return JSONResponse({"version": entry.version, "rollback_of": version}, status_code=201)


async def policy_withdraw(request: Request) -> Response:
    """Back to no policy: a new version without rules (rollback cannot reach version 0)."""
    author = await _policy_key(request)
    rt = app_services(request)
    data = await read_json_object(request, 64 * 1024)
    raw_reason = data.get("reason")
    reason = raw_reason if isinstance(raw_reason, str) else ""
    entry = await run_in_threadpool(rt.policies.withdraw, author, reason)
    return JSONResponse({"version": entry.version, "withdrawn": True}, status_code=201)


routes += [
    Route("/v1/admin/policy", policy_active, methods=["GET"]),
    Route("/v1/admin/policy", policy_apply, methods=["POST"]),
    Route("/v1/admin/policy/versions", policy_versions, methods=["GET"]),
    Route("/v1/admin/policy/validate", policy_validate, methods=["POST"]),
    Route("/v1/admin/policy/dry-run", policy_dry_run, methods=["POST"]),
    Route("/v1/admin/policy/rollback", policy_rollback, methods=["POST"]),
    Route("/v1/admin/policy/withdraw", policy_withdraw, methods=["POST"]),
]
