"""Policy versions in the store: apply, history, rollback, audit, and the dry-run.

An operator changes a policy that decides for a whole fleet; every change must be a
new audited version that can be rolled back, a bad document must never be stored, and
the dry-run must report what the change would do — and change nothing itself.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tenure.agent.device import random_imei
from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.crypto.keys import SigningKey
from tenure.domain.errors import InvalidInput, NotFound
from tenure.domain.in_use import TerritoryState
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.policy import PolicyError
from tenure.services.policy import Impact
from tenure.store.audit import verify_chain
from tenure.store.tables import metadata

HOUR = 3600

SANCTIONS = """\
maker = "Example Phones"
contact = "the retailer"

[markets]
cn = ["CN"]

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR", "KP"]
grace_hours = 72
notice_hours = 24
"""

CHANGED = """\
maker = "Example Phones"

[markets]
cn = ["CN"]

# Iran moves from lock to activation-only; North Korea stays locked.
[[rules]]
id = "iran"
effect = "deny_activation"
territories = ["IR"]

[[rules]]
id = "kp"
effect = "lock_in_use"
territories = ["KP"]

# China-market phones only in China; TP2 may not be activated in Cuba.
[[rules]]
id = "cn-only"
effect = "deny_activation"
match = { markets = ["cn"] }
territories = ["*"]

[[rules]]
id = "cn-home"
effect = "allow"
match = { markets = ["cn"] }
territories = ["@cn"]

[[rules]]
id = "tp2-cuba"
effect = "deny_activation"
match = { models = ["TP2"] }
territories = ["CU"]
"""


@pytest.fixture
def fresh(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    """A runtime that reads the active policy on every call (no refresh delay), as a
    second server replica would after its refresh interval."""
    rt = bootstrap(dataclasses.replace(settings, policy_refresh_seconds=0), clock=clock)
    yield rt
    rt.close()


def provision(runtime: Services, *devices: tuple[str, str, str, str]) -> None:
    """Import (device_id, model, sku, market) rows through the factory importer."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["device_id", "imei", "model", "sku", "market", "public_key"])
    for device_id, model, sku, market in devices:
        der = SigningKey.generate().public().spki_der()
        writer.writerow([device_id, random_imei(), model, sku, market,
                         base64.b64encode(der).decode()])
    report = runtime.importer.run(
        io.BytesIO(out.getvalue().encode()), "csv", actor="test")
    assert report.committed and report.imported == len(devices), report.as_json()


def place(runtime: Services, device_id: str, territory: str | None, activated: bool,
          present_now: bool = True) -> None:
    """Give a device a last known territory (and optionally mark it activated)."""
    now = runtime.clock.now()
    with runtime.uow() as tx:
        if territory is not None:
            state = TerritoryState(territory=territory, since=now if present_now else None)
            tx.territory.put(device_id, state, now)
        if activated:
            tx.devices.set_activated(device_id, now - 10 * 24 * HOUR)


def lock(runtime: Services, device_id: str, territory: str, rule: str = "sanctions") -> None:
    now = runtime.clock.now()
    with runtime.uow() as tx:
        tx.claims.add(Claim(secrets.token_hex(16), device_id, ClaimKind.TERRITORY,
                            f"policy:{rule}", now, message="locked", contact="the retailer",
                            territory=territory))


def snapshot(runtime: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove that something changed nothing."""
    with runtime.uow(readonly=True) as tx:
        return {table.name: sorted((tuple(r) for r in tx.conn.execute(select(table))), key=repr)
                for table in metadata.sorted_tables}


def counts(found: Impact) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(r.model, r.territory): (r.newly_refused, r.newly_locked, r.released)
            for r in found.rows}


# -- versions ------------------------------------------------------------------------------


def test_apply_numbers_versions_and_history_is_newest_first(runtime: Services,
                                                            clock: FixedClock) -> None:
    first = runtime.policies.apply(SANCTIONS, "alice", "initial export rules")
    clock.advance(HOUR)
    second = runtime.policies.apply(CHANGED, "bob", "  Iran: activation only  ")
    assert (first.version, second.version) == (1, 2)
    assert second.reason == "Iran: activation only"
    history = runtime.policies.history()
    assert [(v.version, v.author) for v in history] == [(2, "bob"), (1, "alice")]
    assert history[0].created_at == history[1].created_at + HOUR
    assert history[1].document == SANCTIONS
    assert history[0].sha256 != history[1].sha256
    assert runtime.policies.document().version == 2
    assert runtime.policies.document(1).document == SANCTIONS


def test_the_active_policy_is_the_newest_version(runtime: Services) -> None:
    assert runtime.policies.current().version == 0
    assert runtime.policies.current().policy.rules == ()
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    active = runtime.policies.current()
    assert active.version == 1
    assert [r.rule_id for r in active.policy.rules] == ["sanctions"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(runtime: Services, reason: str) -> None:
    with pytest.raises(InvalidInput):
        runtime.policies.apply(SANCTIONS, "alice", reason)
    assert runtime.policies.history() == []


def test_an_invalid_document_is_refused_and_nothing_is_stored(runtime: Services) -> None:
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    before = snapshot(runtime)
    broken = SANCTIONS.replace('"KP"]', '"KP", "XZ"]').replace("72", "-1")
    with pytest.raises(PolicyError) as caught:
        runtime.policies.apply(broken, "mallory", "typo")
    assert len(caught.value.problems) == 2
    assert snapshot(runtime) == before
    assert runtime.policies.current().version == 1


def test_no_document_before_any_policy(runtime: Services) -> None:
    with pytest.raises(NotFound):
        runtime.policies.document()
    with pytest.raises(NotFound):
        runtime.policies.rollback(1, "alice", "nothing to roll back to")


def test_rollback_applies_the_old_document_as_a_new_version(runtime: Services) -> None:
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    runtime.policies.apply(CHANGED, "bob", "Iran: activation only")
    back = runtime.policies.rollback(1, "carol", "the Iran change was premature")
    assert back.version == 3 and back.rollback_of == 1
    assert back.document == SANCTIONS and back.author == "carol"
    assert [v.version for v in runtime.policies.history()] == [3, 2, 1]
    assert runtime.policies.current().version == 3
    assert [r.rule_id for r in runtime.policies.current().policy.rules] == ["sanctions"]
    with pytest.raises(NotFound):
        runtime.policies.rollback(7, "carol", "no such version")


def test_every_change_is_audited_with_author_and_reason(runtime: Services,
                                                        clock: FixedClock) -> None:
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    clock.advance(60)
    runtime.policies.apply(CHANGED, "bob", "Iran: activation only")
    runtime.policies.rollback(1, "carol", "premature")
    with runtime.uow(readonly=True) as tx:
        events = tx.audit.events("policy")
        chain = verify_chain(tx.conn)
    assert [e["action"] for e in events] == ["policy.applied"] * 3
    assert [e["actor"] for e in events] == ["alice", "bob", "carol"]
    assert [e["data"]["reason"] for e in events] == ["initial", "Iran: activation only",
                                                    "premature"]
    assert [e["data"]["version"] for e in events] == [1, 2, 3]
    assert [e["data"]["rollback_of"] for e in events] == [None, None, 1]
    assert events[1]["at"] == events[0]["at"] + 60
    history = {v.version: v.sha256 for v in runtime.policies.history()}
    assert [e["data"]["sha256"] for e in events] == [history[1], history[2], history[3]]
    assert chain.ok, chain.broken
    assert chain.events >= 3


def test_another_replica_sees_a_new_version(runtime: Services, fresh: Services) -> None:
    """Two servers on one database: a policy applied through one is active on the other
    once its refresh interval has passed (here: zero)."""
    assert fresh.policies.current().version == 0
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    assert fresh.policies.current().version == 1
    runtime.policies.apply(CHANGED, "bob", "Iran: activation only")
    active = fresh.policies.current()
    assert active.version == 2
    assert "cn-only" in [r.rule_id for r in active.policy.rules]


# -- dry-run -------------------------------------------------------------------------------


def fleet(runtime: Services) -> None:
    """Phones of two models and two markets, last seen in various places."""
    provision(runtime,
              ("IR-TP1-A", "TP1", "TP1-64", "eu"), ("IR-TP1-B", "TP1", "TP1-64", "eu"),
              ("IR-TP1-C", "TP1", "TP1-128", "eu"), ("IR-TP1-D", "TP1", "TP1-64", "eu"),
              ("IR-TP2-A", "TP2", "TP2-64", "eu"),
              ("KP-TP2-A", "TP2", "TP2-64", "eu"),
              ("DE-TP1-CN", "TP1", "TP1-CN", "cn"), ("CN-TP1-CN", "TP1", "TP1-CN", "cn"),
              ("CU-TP2-A", "TP2", "TP2-64", "eu"), ("CU-TP1-A", "TP1", "TP1-64", "eu"),
              ("DE-TP1-A", "TP1", "TP1-64", "eu"), ("NOWHERE", "TP1", "TP1-64", "eu"))
    place(runtime, "IR-TP1-A", "IR", activated=True)
    place(runtime, "IR-TP1-B", "IR", activated=True)
    place(runtime, "IR-TP1-C", "IR", activated=False)  # seen at a refused activation
    place(runtime, "IR-TP1-D", "IR", activated=True, present_now=False)  # evidence faded
    place(runtime, "IR-TP2-A", "IR", activated=True)
    place(runtime, "KP-TP2-A", "KP", activated=True)
    place(runtime, "DE-TP1-CN", "DE", activated=True)
    place(runtime, "CN-TP1-CN", "CN", activated=True)
    place(runtime, "CU-TP2-A", "CU", activated=True)
    place(runtime, "CU-TP1-A", "CU", activated=True)
    place(runtime, "DE-TP1-A", "DE", activated=True)
    place(runtime, "NOWHERE", None, activated=True)


def test_dry_run_from_no_policy_counts_by_model_and_territory(runtime: Services) -> None:
    fleet(runtime)
    found = runtime.policies.preview(SANCTIONS)
    assert found.from_version == 0
    assert counts(found) == {
        # every device last seen there would be refused at (re)activation; only those in
        # use there now (activated, presence not faded) would be locked
        ("TP1", "IR"): (4, 2, 0),
        ("TP2", "IR"): (1, 1, 0),
        ("TP2", "KP"): (1, 1, 0),
    }
    totals = found.totals
    assert (totals.newly_refused, totals.newly_locked, totals.released) == (6, 4, 0)
    assert found.as_json()["totals"] == {"model": "all models", "territory": "all",
                                         "newly_refused": 6, "newly_locked": 4, "released": 0}
    text = found.render()
    assert "Impact against active version 0" in text and "TP2" in text and "KP" in text


def test_dry_run_of_a_change_reports_releases_and_new_refusals(runtime: Services) -> None:
    fleet(runtime)
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    lock(runtime, "IR-TP1-A", "IR")  # locked in use under version 1
    lock(runtime, "IR-TP2-A", "IR")
    lock(runtime, "KP-TP2-A", "KP")
    found = runtime.policies.preview(CHANGED)
    assert found.from_version == 1
    assert counts(found) == {
        ("TP1", "IR"): (0, 0, 1),  # IR becomes activation-only: its lock is released
        ("TP2", "IR"): (0, 0, 1),
        ("TP1", "DE"): (1, 0, 0),  # the China-market phone seen in Germany
        ("TP2", "CU"): (1, 0, 0),  # TP2 not in Cuba; TP1 is not affected
    }
    # KP stays locked: neither newly locked nor released, so no row at all.
    assert ("TP2", "KP") not in counts(found)


def test_dry_run_of_the_active_policy_changes_nothing(runtime: Services) -> None:
    fleet(runtime)
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    lock(runtime, "IR-TP1-A", "IR")
    found = runtime.policies.preview(SANCTIONS)
    assert found.rows == []
    assert "(no device changes)" in found.render()


def test_dry_run_changes_nothing_in_the_database(runtime: Services) -> None:
    fleet(runtime)
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    lock(runtime, "IR-TP1-A", "IR")
    before = snapshot(runtime)
    found = runtime.policies.preview(CHANGED)
    assert found.rows  # it did have something to report
    assert snapshot(runtime) == before
    assert runtime.policies.current().version == 1


def test_dry_run_of_an_invalid_document_is_refused(runtime: Services) -> None:
    with pytest.raises(PolicyError):
        runtime.policies.preview('[[rules]]\nid = "x"\neffect = "allow"\nterritories = ["XZ"]\n')


def test_withdraw_returns_to_no_policy_as_an_audited_version(runtime: Services) -> None:
    """`rollback 1` after applying version 1 re-applies version 1; withdrawing is the way
    back to "no policy", and it is a version like any other (so it can be rolled back)."""
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    with pytest.raises(NotFound, match="withdraw"):
        runtime.policies.rollback(0, "bob", "back to nothing")
    withdrawn = runtime.policies.withdraw("bob", "licence granted")
    assert withdrawn.version == 2 and withdrawn.rollback_of is None
    active = runtime.policies.current()
    assert active.version == 2 and active.policy.rules == ()
    with runtime.uow(readonly=True) as tx:
        events = tx.audit.events("policy")
        assert verify_chain(tx.conn).ok
    assert [(e["action"], e["actor"], e["data"]["reason"]) for e in events] == [
        ("policy.applied", "alice", "initial"), ("policy.withdrawn", "bob", "licence granted")]
    with pytest.raises(InvalidInput, match="nothing to withdraw"):
        runtime.policies.withdraw("bob", "twice")
    assert runtime.policies.current().version == 2
    assert runtime.policies.rollback(1, "carol", "restored").version == 3
    assert [r.rule_id for r in runtime.policies.current().policy.rules] == ["sanctions"]


def test_withdraw_needs_a_policy_in_force_and_a_reason(runtime: Services) -> None:
    with pytest.raises(InvalidInput, match="nothing to withdraw"):
        runtime.policies.withdraw("alice", "nothing yet")
    runtime.policies.apply(SANCTIONS, "alice", "initial")
    with pytest.raises(InvalidInput, match="reason"):
        runtime.policies.withdraw("bob", "  ")
    assert [v.version for v in runtime.policies.history()] == [1]
