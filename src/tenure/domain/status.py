"""What a buyer's status statement says about a device, computed without I/O.

A buyer asks before paying whether the device is held and where it may not be used;
the statement answers with booleans and territory codes only, never who holds what
(docs/protocol.md, "Buyers and redress").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

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


def _restricting(policy: Policy, device: Device, territory: str,
                 exempt: Collection[str], sale: Sale | None) -> str | None:
    """The id of the rule that refuses or locks the device in `territory`, or None."""
    rule = winning_rule(policy, device, territory)
    if (rule is None or rule.effect == "allow" or rule.rule_id in exempt
            or sale_exempts(rule, territory, sale)):
        return None
    return rule.rule_id


def restricting_rules(policy: Policy, device: Device, exempt: Collection[str] = (),
                      sale: Sale | None = None) -> list[str]:
    """The ids of the rules behind `territory_restrictions`: what a territory appeal
    covers (docs/redress.md), sorted."""
    found = {_restricting(policy, device, t, exempt, sale)
             for t in [*_candidates(policy, device), ANYWHERE]}
    return sorted(r for r in found if r is not None)


def territory_restrictions(policy: Policy, device: Device, sale: Sale | None = None,
                           exempt: Collection[str] = ()) -> list[str]:
    """The territories where the policy refuses activation of this device or locks it in
    use, sorted; `*` first when that holds everywhere no rule names specifically.

    Each candidate is judged with the policy's own precedence (the most specific rule
    wins, `allow` exceptions included), so an exception for a subdivision or market is
    not reported as a restriction; a territory named only by an `allow` is left out, and
    so is one where the device's licensed `sale` exempts it (docs/retailers.md) or whose
    rule a granted appeal exempted the device from (`exempt`).
    """
    restricted = {t for t in _candidates(policy, device) if t != ANYWHERE
                  and _restricting(policy, device, t, exempt, sale) is not None}
    head = ([ANYWHERE] if _restricting(policy, device, ANYWHERE, exempt, sale) is not None
            else [])
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
