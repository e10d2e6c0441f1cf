"""What a buyer's status statement says about a device, computed without I/O.

A buyer asks before paying whether the device is held and where it may not be used;
the statement answers with booleans and territory codes only, never who holds what
(docs/protocol.md, "Buyers and redress").
"""

from __future__ import annotations

import ipaddress

from .model import Device, Sale
from .policy import Policy, sale_exempts, winning_rule

ANYWHERE = "*"


def _candidates(policy: Policy, device: Device) -> list[str]:
    """Every territory a rule covering this device names, markets expanded."""
    found: list[str] = []
    for rule in policy.rules:
        if not rule.match.covers(device):
            continue
        for entry in rule.territories:
            members = (policy.markets.get(entry[1:], ()) if entry.startswith("@")
                       else (entry,))
            found.extend(m for m in members if m not in found)
    return found


def territory_restrictions(policy: Policy, device: Device,
                           sale: Sale | None = None) -> list[str]:
    """The territories where the policy refuses activation of this device or locks it in
    use, sorted; `*` first when that holds everywhere no rule names specifically.

    Each candidate is judged with the policy's own precedence (the most specific rule
    wins, `allow` exceptions included), so an exception for a subdivision or market is
    not reported as a restriction; a territory named only by an `allow` is left out, and
    so is one where the device's licensed `sale` exempts it (docs/retailers.md).
    """
    restricted = {t for t in _candidates(policy, device) if t != ANYWHERE
                  and (rule := winning_rule(policy, device, t)) is not None
                  and rule.effect != "allow" and not sale_exempts(rule, t, sale)}
    elsewhere = winning_rule(policy, device, ANYWHERE)
    head = [ANYWHERE] if elsewhere is not None and elsewhere.effect != "allow" else []
    return head + sorted(restricted)


def address_group(address: str) -> str:
    """The unit a per-address limit counts: an IPv4 address, or an IPv6 /64 (one host
    usually has a whole /64 to pick addresses from). Anything else counts as itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
