"""The client address behind a trusted proxy (TENURE_TRUSTED_PROXIES): the throttles and
the territory evidence count by it, so a client must not be able to choose it.

HAProxy's `option forwardfor` appends its own X-Forwarded-For line after one the client
sent (tests/e2e/test_scale_out.py runs it for real); reading only the first line let
any client pick the address its sign-in attempts were counted against.
"""

from __future__ import annotations

from starlette.requests import Request

from tenure.http.addresses import ClientAddress


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", line.encode()) for line in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers,
                    "client": (peer, 40000), "query_string": b""})


def test_a_line_the_client_sent_before_the_proxy_line_does_not_count() -> None:
    address = ClientAddress("127.0.0.1")
    assert address(request("127.0.0.1", "203.0.113.9", "198.51.100.4")) == "198.51.100.4"


def test_a_single_line_is_read_from_the_right_past_trusted_hops() -> None:
    address = ClientAddress("127.0.0.1, 10.0.0.0/8")
    assert address(request("127.0.0.1", "203.0.113.9, 198.51.100.4, 10.1.2.3")) == \
        "198.51.100.4"
    assert address(request("127.0.0.1", "203.0.113.9, 198.51.100.4", "10.1.2.3")) == \
        "198.51.100.4"


def test_only_a_trusted_peer_may_speak_for_the_client() -> None:
    address = ClientAddress("127.0.0.1")
    assert address(request("192.0.2.7", "203.0.113.9")) == "192.0.2.7"
    assert ClientAddress("")(request("127.0.0.1", "203.0.113.9")) == "127.0.0.1"


def test_a_proxy_without_the_header_leaves_its_own_address() -> None:
    assert ClientAddress("127.0.0.1")(request("127.0.0.1")) == "127.0.0.1"
