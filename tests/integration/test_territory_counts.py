"""The policy dry-run counts from totals the database keeps (migration 0014): they must
equal a count of the devices themselves after any mix of writes, concurrent ones too."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.domain.errors import Unavailable
from tenure.domain.in_use import TerritoryState
from tenure.services.policy import impact, parse_document
from tenure.services.ports import Tx

from .helpers import Device, import_file, provisioning_csv
from .test_import_parallel import ED, imei

Group = tuple[str, str, str, str, bool]
TERRITORIES = ["DE", "FR", "US", "CN", "UA-43", None]
PRODUCTS = [("Phone", "P-1", "eu"), ("Phone", "P-2", "cn"), ("Tab", "T-1", "global")]
POLICY = """
[[rules]]
id = "cn-only-in-cn"
effect = "deny_activation"
match = { markets = ["cn"] }
territories = ["DE", "FR", "US"]

[[rules]]
id = "no-phones-in-ua43"
effect = "lock_in_use"
match = { models = ["Phone"] }
territories = ["UA-43"]
grace_hours = 1
"""

# The brute force: every device with a last known territory, joined and grouped.
BRUTE_FORCE = text("""
    SELECT d.model, d.sku, d.market, dt.territory,
           d.activated_at IS NOT NULL AND dt.since IS NOT NULL AS in_use, count(*) AS n
    FROM device_territory dt JOIN devices d ON d.device_id = dt.device_id
    WHERE dt.territory IS NOT NULL
    GROUP BY d.model, d.sku, d.market, dt.territory,
             d.activated_at IS NOT NULL AND dt.since IS NOT NULL""")


def counted(runtime: Services) -> tuple[Counter[Group], Counter[Group]]:
    """(what the dry-run reads, the brute force), in one snapshot."""
    with runtime.uow(readonly=True) as tx:
        kept = Counter({g[:5]: g[5] for g in tx.territory.groups()})
        brute = Counter({(r.model, r.sku, r.market, r.territory, bool(r.in_use)): r.n
                         for r in tx.conn.execute(BRUTE_FORCE)})
    return kept, brute


class _Brute:
    """A Tx for `impact` whose groups are the brute force (the reference dry-run)."""

    def __init__(self, tx: Tx) -> None:
        self.territory = self
        self.tx = tx

    def groups(self) -> list[tuple[str, str, str, str, bool, int]]:
        return [(r.model, r.sku, r.market, r.territory, bool(r.in_use), r.n)
                for r in self.tx.conn.execute(BRUTE_FORCE)]

    def locked_groups(self) -> list[tuple[str, str, str, str, int]]:
        return self.tx.territory.locked_groups()


def import_devices(runtime: Services, first: int, n: int) -> list[str]:
    ids = [f"CNT-{i:05d}" for i in range(first, first + n)]
    rows = [f"{d},{imei(i)},{PRODUCTS[i % 3][0]},{PRODUCTS[i % 3][1]},{PRODUCTS[i % 3][2]},"
            f"{ED}" for i, d in zip(range(first, first + n), ids, strict=True)]
    assert import_file(runtime, provisioning_csv(rows)).committed
    return ids


def move(tx: Tx, device_id: str, rng: random.Random, now: int) -> None:
    """A check-in's or activation's write of the device's whereabouts."""
    territory = rng.choice(TERRITORIES)
    since = now if territory is not None and rng.random() < 0.7 else None
    tx.territory.put(device_id, TerritoryState(territory, since), now)


def remove(tx: Tx, device_id: str) -> None:
    """The whereabouts forgotten altogether (no path does it today; the count must
    follow all the same)."""
    tx.conn.execute(text("DELETE FROM device_territory WHERE device_id = :d"), {"d": device_id})


def test_the_dry_run_counts_equal_a_count_of_the_devices(
        runtime: Services, client: TestClient) -> None:
    rng = random.Random(20261207)
    devices = import_devices(runtime, 0, 30)
    real = [Device(client, runtime, market="eu") for _ in range(3)]
    import_file(runtime, provisioning_csv(d.row() for d in real))
    signals = [{"sim_mcc": ["262"]}, {"sim_mcc": ["208"]}, {"gnss": {"country": "CN"}}]
    for step in range(240):
        now = 1_900_000_000 + step
        roll = rng.random()
        if roll < 0.03:
            devices += import_devices(runtime, len(devices), 5)
        elif roll < 0.06:  # real activations through the API, with territory evidence
            device = rng.choice(real)
            device.activate(signals=rng.choice(signals)).record()
        elif roll < 0.1:
            runtime.maintenance.fold_territory_counts()
        else:
            with runtime.uow() as tx:
                device_id = rng.choice(devices)
                if roll < 0.45:
                    move(tx, device_id, rng, now)
                elif roll < 0.8:  # activated, or a refused activation clears it
                    tx.devices.set_activated(device_id, now if rng.random() < 0.7 else None)
                else:
                    remove(tx, device_id)
        if step % 40 == 39:
            kept, brute = counted(runtime)
            assert kept == brute, step
    kept, brute = counted(runtime)
    assert kept == brute and sum(brute.values()) > 10
    assert any(group[4] for group in brute)  # some in use, some not
    assert any(not group[4] for group in brute)

    # the dry-run itself: its numbers are those of the brute force
    new = parse_document(POLICY)
    preview = runtime.policies.preview(POLICY)
    with runtime.uow(readonly=True) as tx:
        active = runtime.policies.active_in(tx)
        reference = impact(_Brute(tx), active.policy, new, active.version)  # type: ignore[arg-type]
    assert preview.as_json() == reference.as_json()
    assert preview.totals.newly_refused > 0 and preview.totals.newly_locked > 0


def test_counts_stay_exact_under_concurrent_writes(runtime: Services) -> None:
    """Several writers move, activate and forget the same few devices at once, while
    folds run: whatever interleaving the database allows, the totals add up."""
    devices = import_devices(runtime, 100, 6)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        def work(tx: Tx, now: int) -> None:
            device_id = rng.choice(devices)
            if rng.random() < 0.5:
                move(tx, device_id, rng, now)
            else:
                tx.devices.set_activated(device_id, now if rng.random() < 0.6 else None)
            if rng.random() < 0.2:
                remove(tx, rng.choice(devices))

        for step in range(40):
            try:
                runtime.uow.run(lambda tx, now=1_900_000_000 + step: work(tx, now))
            except Unavailable:
                pass  # a lock not had in time: rolled back, and that is all
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    def folder() -> None:
        for _ in range(20):
            with contextlib.suppress(Unavailable):
                runtime.maintenance.fold_territory_counts()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    threads.append(threading.Thread(target=folder))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    kept, brute = counted(runtime)
    assert kept == brute
    runtime.maintenance.fold_territory_counts()
    assert counted(runtime)[0] == brute


@pytest.fixture
def fold(runtime: Services) -> Callable[[], int]:
    return runtime.maintenance.fold_territory_counts


def test_a_fold_leaves_the_totals_and_empties_the_changes(
        runtime: Services, fold: Callable[[], int]) -> None:
    devices = import_devices(runtime, 200, 4)
    with runtime.uow() as tx:
        for i, device_id in enumerate(devices):
            tx.territory.put(device_id, TerritoryState("DE" if i % 2 else "FR", 5), 5)
        tx.devices.set_activated(devices[0], 6)
    before, brute = counted(runtime)
    assert before == brute and fold() == 6  # four arrivals; one activation: -1 and +1
    assert counted(runtime)[0] == brute and fold() == 0
    with runtime.uow(readonly=True) as tx:
        assert not tx.territory.count_changes_pending()
        stored = tx.conn.execute(text("SELECT count(*) FROM territory_counts")).scalar_one()
    assert stored == len(brute)
