"""Account router: registration, sessions, the second factor, password reset, the
owner's devices."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bodies import bearer, client_address, json_object, read_capped, request_locale
from .deps import app_services
from .idempotency import idempotent


async def register(request: Request) -> Response:
    rt = app_services(request)
    body = await read_capped(request, rt.settings.max_body_bytes)
    data = json_object(body)

    address = client_address(request)
    locale = request_locale(request)  # the account's mail is written in it

    async def produce() -> Response:
        account = await run_in_threadpool(rt.register, data.get("email"), data.get("password"),
                                          address, locale)
        return JSONResponse({"account_id": account.account_id, "email": account.email},
                            status_code=201)

    return await idempotent(request, rt.idempotency, "anonymous", body, produce)


async def sign_in(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    session = await run_in_threadpool(
        rt.sign_in, data.get("email"), data.get("password"), client_address(request),
        data.get("totp"))
    return JSONResponse({"token": session.token, "expires_at": session.expires_at},
                        status_code=201, headers={"Cache-Control": "no-store"})


async def request_reset(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.password_reset.request, data.get("email"),
                            client_address(request))
    return Response(status_code=202)


async def confirm_reset(request: Request) -> Response:
    rt = app_services(request)
    body = await read_capped(request, rt.settings.max_body_bytes)
    data = json_object(body)

    async def produce() -> Response:
        await run_in_threadpool(rt.password_reset.confirm, data.get("token"),
                                data.get("new_password"))
        return Response(status_code=204)

    return await idempotent(request, rt.idempotency, "anonymous", body, produce)


async def my_devices(request: Request) -> Response:
    rt = app_services(request)
    devices = await run_in_threadpool(rt.owner_devices.overview, bearer(request))
    return JSONResponse({"devices": devices}, headers={"Cache-Control": "no-store"})


async def remove_my_device(request: Request) -> Response:
    rt = app_services(request)
    await run_in_threadpool(rt.owner_devices.remove, bearer(request),
                            request.path_params["device_id"])
    return Response(status_code=204)


async def report_lost(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.lost_mode.report, bearer(request),
                            request.path_params["device_id"], data.get("message"),
                            data.get("contact"))
    return Response(status_code=204)


async def report_found(request: Request) -> Response:
    rt = app_services(request)
    await run_in_threadpool(rt.lost_mode.found, bearer(request),
                            request.path_params["device_id"])
    return Response(status_code=204)


async def consent(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.consents.give, bearer(request),
                            request.path_params["device_id"], data.get("tenant_id"))
    return Response(status_code=204)


async def send_command(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    command_id = await run_in_threadpool(rt.owner_commands.issue, bearer(request),
                                         request.path_params["device_id"], data.get("type"))
    return JSONResponse({"command_id": command_id}, status_code=202)


async def unlock(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    token = await run_in_threadpool(rt.unlock, bearer(request), data.get("bootloader_token"))
    return JSONResponse({"unlock_token": token}, headers={"Cache-Control": "no-store"})


async def enroll_totp(request: Request) -> Response:
    rt = app_services(request)
    enrolment = await run_in_threadpool(rt.second_factor.enroll, bearer(request))
    return JSONResponse({"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri},
                        status_code=201, headers={"Cache-Control": "no-store"})


async def confirm_totp(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    codes = await run_in_threadpool(rt.second_factor.confirm, bearer(request),
                                    data.get("code"))
    return JSONResponse({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


async def disable_totp(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.second_factor.disable, bearer(request), data.get("code"))
    return Response(status_code=204)


async def regenerate_recovery(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    codes = await run_in_threadpool(rt.second_factor.regenerate, bearer(request),
                                    data.get("code"))
    return JSONResponse({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


async def delete_me(request: Request) -> Response:
    rt = app_services(request)
    await run_in_threadpool(rt.delete_account, bearer(request))
    return Response(status_code=204)


async def start_transfer(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    started = await run_in_threadpool(rt.transfers.start, bearer(request),
                                      request.path_params["device_id"], data.get("to_email"))
    return JSONResponse({"transfer_id": started.transfer_id, "expires_at": started.expires_at},
                        status_code=201, headers={"Cache-Control": "no-store"})


async def cancel_transfer(request: Request) -> Response:
    rt = app_services(request)
    await run_in_threadpool(rt.transfers.cancel, bearer(request),
                            request.path_params["device_id"],
                            request.path_params["transfer_id"])
    return Response(status_code=204)


async def accept_transfer(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    accepted = await run_in_threadpool(rt.transfers.accept, bearer(request),
                                       request.path_params["transfer_id"], data.get("code"))
    return JSONResponse({"transfer_id": accepted.transfer_id, "device_id": accepted.device_id,
                         "state": "accepted", "owner": {"hint": accepted.owner_hint}},
                        headers={"Cache-Control": "no-store"})


async def reply_to_message(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.relay.reply, bearer(request), request.path_params["message_id"],
                            data.get("message"))
    return Response(status_code=202)


routes = [
    Route("/v1/accounts", register, methods=["POST"]),
    Route("/v1/sessions", sign_in, methods=["POST"]),
    Route("/v1/password-resets", request_reset, methods=["POST"]),
    Route("/v1/password-resets/confirm", confirm_reset, methods=["POST"]),
    Route("/v1/me/devices", my_devices, methods=["GET"]),
    Route("/v1/me/devices/{device_id}", remove_my_device, methods=["DELETE"]),
    Route("/v1/me/devices/{device_id}/lost", report_lost, methods=["POST"]),
    Route("/v1/me/devices/{device_id}/lost", report_found, methods=["DELETE"]),
    Route("/v1/me/devices/{device_id}/consents", consent, methods=["POST"]),
    Route("/v1/me/devices/{device_id}/commands", send_command, methods=["POST"]),
    Route("/v1/me/totp", enroll_totp, methods=["POST"]),
    Route("/v1/me/totp/confirm", confirm_totp, methods=["POST"]),
    Route("/v1/me/totp", disable_totp, methods=["DELETE"]),
    Route("/v1/me/totp/recovery-codes", regenerate_recovery, methods=["POST"]),
    Route("/v1/me", delete_me, methods=["DELETE"]),
    Route("/v1/me/devices/{device_id}/transfers", start_transfer, methods=["POST"]),
    Route("/v1/me/devices/{device_id}/transfers/{transfer_id}", cancel_transfer,
          methods=["DELETE"]),
    Route("/v1/transfers/{transfer_id}/accept", accept_transfer, methods=["POST"]),
    Route("/v1/me/messages/{message_id}/reply", reply_to_message, methods=["POST"]),
    Route("/v1/unlocks", unlock, methods=["POST"]),
]
