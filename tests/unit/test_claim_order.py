"""Claims are listed in a defined order, also when several were made in one second."""

from __future__ import annotations

from tenure.domain.model import Claim, ClaimKind, claim_order


def claim(claim_id: str, kind: ClaimKind, at: int) -> Claim:
    return Claim(claim_id=claim_id, device_id="D1", kind=kind, holder="h", created_at=at)


def test_older_claims_first_then_kind_order_within_one_second() -> None:
    lost = claim("0000", ClaimKind.LOST, 100)  # its id sorts first, its kind does not
    owner = claim("ffff", ClaimKind.OWNER, 100)
    territory = claim("1111", ClaimKind.TERRITORY, 50)
    assert sorted([lost, owner, territory], key=claim_order) == [territory, owner, lost]


def test_same_second_and_kind_falls_back_to_the_id() -> None:
    a, b = claim("a", ClaimKind.CREDITOR, 7), claim("b", ClaimKind.CREDITOR, 7)
    assert sorted([b, a], key=claim_order) == [a, b]
