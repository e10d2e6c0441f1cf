"""The client's address: the peer, or X-Forwarded-For when the peer is a trusted proxy;
and whether the client's own connection was TLS (X-Forwarded-Proto from such a proxy).

Only addresses in TENURE_TRUSTED_PROXIES may speak for the client; the header is read
from the right, skipping trusted hops, so a client cannot forge its own address by
sending the header itself. Every X-Forwarded-For line counts, in order, as one list
(RFC 9110 §5.3): HAProxy's `option forwardfor` appends its own line after the client's
rather than extending it, and reading only the first line would believe the client.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from tenure.config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(f"TENURE_TRUSTED_PROXIES: {item!r} is not an address or "
                              "network") from exc
    return tuple(networks)


class ClientAddress:
    def __init__(self, trusted: str) -> None:
        self.networks = parse_networks(trusted)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def _from_proxy(self, request: Request) -> bool:
        """The peer is one of TENURE_TRUSTED_PROXIES: its forwarding headers count."""
        return bool(self.networks and request.client and self._trusted(request.client.host))

    def __call__(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self._from_proxy(request):
            return peer
        lines = request.headers.getlist("x-forwarded-for")
        hops = [h.strip() for h in ",".join(lines).split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def forwarded_tls(self, request: Request) -> bool:
        """True when a trusted proxy says the client reached it over https: a proxy that
        ends TLS speaks plain HTTP to us, and the browser's cookies still want `Secure`.
        The last value counts (the proxy nearest us appends or sets it)."""
        if not self._from_proxy(request):
            return False
        values = ",".join(request.headers.getlist("x-forwarded-proto")).split(",")
        return values[-1].strip().lower() == "https"
