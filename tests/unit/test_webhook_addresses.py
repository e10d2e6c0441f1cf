"""Which addresses a webhook may reach: public unicast only, whatever the wrapping."""

from __future__ import annotations

import ipaddress
import random

import pytest

from tenure.adapters.webhooks import refusal
from tenure.services.webhooks import MAX_RETRY_SECONDS, retry_delay

REFUSED = [
    "127.0.0.1", "127.8.9.10", "::1",  # loopback
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1", "fd12:3456::1",  # private
    "169.254.169.254", "fe80::1",  # link-local (cloud metadata)
    "224.0.0.1", "239.255.255.250", "ff02::1",  # multicast
    "0.0.0.0", "::",  # unspecified  # noqa: S104
    "240.0.0.1", "255.255.255.255",  # reserved, broadcast
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "192.0.2.1", "198.51.100.1", "203.0.113.9", "2001:db8::1",  # documentation
    "198.18.0.1",  # benchmarking
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a00:1", "64:ff9b::7f00:1",  # NAT64 of 10.0.0.1, 127.0.0.1
    "2002:a00:1::1", "2002:7f00:1::1",  # 6to4 of 10.0.0.1, 127.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
ALLOWED = ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111",
           "::ffff:93.184.215.14", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_the_insecure_setting_allows_loopback(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0"])  # noqa: S104
def test_the_insecure_setting_allows_nothing_else(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


def test_refusals_say_what_the_address_is() -> None:
    why = refusal(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert why == "a link-local address (169.254.169.254) (inside ::ffff:a9fe:a9fe)"


def test_retry_delays_double_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(7)
    for failures, ceiling in [(1, 10), (2, 20), (3, 40), (8, 1280), (9, 2560), (10, 3600),
                              (40, 3600), (10_000, 3600)]:
        delays = {retry_delay(failures, rng) for _ in range(50)}
        assert all(ceiling // 2 <= d <= ceiling for d in delays), (failures, delays)
        assert len(delays) > 1
    assert retry_delay(10_000, rng) <= MAX_RETRY_SECONDS
