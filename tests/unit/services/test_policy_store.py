"""Territory policy versions: validated, audited, numbered densely, rolled back as new
versions, previewed against the fleet's last known whereabouts."""

from __future__ import annotations

import hashlib

import pytest

from tenure.domain.errors import InvalidInput, NotFound
from tenure.domain.in_use import TerritoryState
from tenure.domain.model import ClaimKind
from tenure.domain.policy import PolicyError
from tenure.services.policy import PolicyStore
from tenure.services.ports import PolicyVersion

from ..fakes import State
from .conftest import World

LOCK_IR = """
[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR"]
grace_hours = 72
"""
DENY_IR = """
[[rules]]
id = "no-activation"
effect = "deny_activation"
territories = ["IR"]
"""


def store(world: World, refresh: float = 0) -> PolicyStore:
    return PolicyStore(world.uow, world.clock, refresh)


def test_applying_makes_an_audited_version_and_the_active_policy(world: World) -> None:
    entry = store(world).apply(LOCK_IR, "alice", " new sanctions ")
    assert (entry.version, entry.author, entry.reason) == (1, "alice", "new sanctions")
    assert entry.sha256 == hashlib.sha256(LOCK_IR.encode()).hexdigest()
    active = store(world).current()
    assert active.version == 1 and active.policy.rules[0].rule_id == "sanctions"
    assert world.uow.actions("policy") == ["policy.applied"]


def test_nothing_is_stored_for_an_invalid_document_or_without_a_reason(world: World) -> None:
    with pytest.raises(PolicyError):
        store(world).apply("[[rules]]\nid = 1\n", "alice", "oops")
    with pytest.raises(InvalidInput):
        store(world).apply(LOCK_IR, "alice", "   ")
    assert world.uow.state.policies == {} and store(world).current().version == 0


def test_rollback_applies_the_old_document_as_a_new_version(world: World) -> None:
    store(world).apply(LOCK_IR, "alice", "first")
    store(world).apply(DENY_IR, "bob", "second")
    back = store(world).rollback(1, "carol", "")
    assert (back.version, back.rollback_of, back.document) == (3, 1, LOCK_IR)
    assert back.reason == "rollback to version 1"
    assert [e.version for e in store(world).history()] == [3, 2, 1]
    assert store(world).document().version == 3
    with pytest.raises(NotFound):
        store(world).rollback(9, "carol", "")


def test_with_no_policy_there_is_no_document(world: World) -> None:
    with pytest.raises(NotFound):
        store(world).document()


def test_a_racing_apply_takes_the_next_number(world: World) -> None:
    def other_replica(state: State) -> None:
        state.policies[1] = PolicyVersion(1, DENY_IR, "x", "bob", "race", 0, None)

    world.uow.races.append(other_replica)
    assert store(world).apply(LOCK_IR, "alice", "mine").version == 2


def test_another_replicas_change_is_seen_after_the_refresh_interval(world: World) -> None:
    cached = store(world, refresh=3600)
    assert cached.current().version == 0
    store(world).apply(LOCK_IR, "alice", "elsewhere")
    assert cached.current().version == 0  # still within the refresh interval
    cached.apply(DENY_IR, "bob", "here")  # its own change clears its cache
    assert cached.current().version == 2


def test_the_preview_counts_devices_newly_locked_refused_and_released(world: World) -> None:
    in_use, fresh = world.phone(activated=True), world.phone()
    for phone in (in_use, fresh):
        world.uow.state.territory[phone.device_id] = TerritoryState("IR", world.clock.now())
    impact = store(world).preview(LOCK_IR)
    assert impact.from_version == 0
    (row,) = impact.rows
    assert (row.model, row.territory, row.newly_locked, row.newly_refused) == (
        "Tenure Phone 1", "IR", 1, 2)
    store(world).apply(LOCK_IR, "alice", "on")
    world.claim(in_use, ClaimKind.TERRITORY,
                "policy:sanctions", territory="IR")
    lifted = store(world).preview(DENY_IR)
    assert lifted.totals.released == 1 and lifted.totals.newly_locked == 0


def test_withdrawing_returns_to_no_policy_as_an_audited_version(world: World) -> None:
    store(world).apply(LOCK_IR, "alice", "first")
    entry = store(world).withdraw("bob", "sanctions lifted")
    assert (entry.version, entry.author, entry.reason) == (2, "bob", "sanctions lifted")
    assert store(world).current().policy.rules == ()
    assert world.uow.actions("policy") == ["policy.applied", "policy.withdrawn"]
    with pytest.raises(InvalidInput, match="nothing to withdraw"):
        store(world).withdraw("bob", "again")
    back = store(world).rollback(1, "carol", "")  # a withdrawal can itself be undone
    assert back.version == 3 and store(world).current().policy.rules[0].rule_id == "sanctions"


@pytest.mark.parametrize("author", ["x\udcff", "nul\x00", "\x1b[31mred"])
def test_an_author_is_text_a_person_can_read(world: World, author: str) -> None:
    with pytest.raises(InvalidInput, match="'author'"):
        store(world).apply(LOCK_IR, author, "reason")
    assert world.uow.state.policies == {}
