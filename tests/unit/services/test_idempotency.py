"""Idempotency-Key reservation: the key is taken before the work runs, so that of
simultaneous requests with one key exactly one executes; the others are told the key
is in use, then get the kept answer."""

from __future__ import annotations

import pytest

from tenure.domain.errors import IdempotencyKeyInUse, InvalidInput
from tenure.services.idempotency import STALE_SECONDS, IdempotencyRecords, Reservation
from tenure.services.ports import StoredResponse

from .conftest import World

SCOPE = "anonymous:POST:/v1/accounts"


def test_the_first_request_holds_the_key_and_a_concurrent_one_is_told_it_is_in_use(
        world: World) -> None:
    """Regression: ten simultaneous requests with one key each found nothing kept and
    all ran the work; now the second finds the reservation."""
    records = IdempotencyRecords(world.uow, world.clock)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    with pytest.raises(IdempotencyKeyInUse):
        records.reserve(SCOPE, "k1", "hash-a")
    records.finish(held, 201, b'{"id": 1}', "application/json")
    replay = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(replay, StoredResponse)
    assert (replay.status, replay.body, replay.pending) == (201, b'{"id": 1}', False)
    assert isinstance(records.reserve("other-scope", "k1", "hash-a"), Reservation)


def test_the_same_key_with_another_body_is_refused(world: World) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    with pytest.raises(InvalidInput):
        records.reserve(SCOPE, "k1", "hash-b")  # while pending
    records.finish(held, 201, b"{}", "application/json")
    with pytest.raises(InvalidInput):
        records.reserve(SCOPE, "k1", "hash-b")  # once answered


@pytest.mark.parametrize("status", [500, 503, 429])
def test_answers_worth_retrying_free_the_key(world: World, status: int) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    records.finish(held, status, b"{}", "application/problem+json")
    assert isinstance(records.reserve(SCOPE, "k1", "hash-a"), Reservation)


def test_a_refusal_is_kept_and_replayed(world: World) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    records.finish(held, 409, b'{"type": "email-taken"}', "application/problem+json")
    kept = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(kept, StoredResponse) and kept.status == 409


def test_a_released_reservation_runs_again(world: World) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    records.release(held)
    assert isinstance(records.reserve(SCOPE, "k1", "hash-a"), Reservation)


def test_a_reservation_whose_request_died_is_taken_over_once_stale(world: World) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    assert isinstance(records.reserve(SCOPE, "k1", "hash-a"), Reservation)  # never finished
    world.clock.advance(STALE_SECONDS - 1)
    with pytest.raises(IdempotencyKeyInUse):
        records.reserve(SCOPE, "k1", "hash-a")
    world.clock.advance(2)
    held = records.reserve(SCOPE, "k1", "hash-a")
    assert isinstance(held, Reservation)
    with pytest.raises(IdempotencyKeyInUse):  # and now it is this request's
        records.reserve(SCOPE, "k1", "hash-a")
