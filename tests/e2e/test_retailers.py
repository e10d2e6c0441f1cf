"""A licensed retailer's sale end to end: the operator's CLI steps (retailer, key,
assignment, licence, policy), the retailer's report over HTTP to a real `tenure serve`,
and the reference agent activating in the restricted territory — the device the
licensed retailer sold activates there, one without a registered sale is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tenure.clock import OffsetFileClock

from .conftest import ServerProcess
from .test_activation_lock import provision
from .test_territory import IRAN, SIM_IR, apply, at

pytestmark = pytest.mark.e2e

EMBARGO = """
maker = "Example Phones"

[[rules]]
id = "embargo"
effect = "deny_activation"
territories = ["IR"]
exempt_licensed_sales = true
"""


def test_a_licensed_sale_activates_where_others_are_refused(
        territory_server: ServerProcess, tmp_path: Path) -> None:
    server = territory_server
    sold, unsold = (provision(server, tmp_path, name) for name in ("RS-SOLD", "RS-UNSOLD"))
    tenant_id = server.cli("tenant", "create", "--kind", "retailer", "--name",
                           "Tehran Phones").stdout.strip()
    key = server.cli("apikey", "create", "--role", "retailer", "--tenant",
                     tenant_id).stdout.strip()
    assigned = tmp_path / "assigned.txt"
    assigned.write_text("RS-SOLD\nRS-UNSOLD\n")
    server.cli("tenant", "assign", tenant_id, str(assigned))
    assert "IR" in server.cli("tenant", "license", tenant_id, "--territory", "IR").stdout
    apply(server, tmp_path, EMBARGO, "embargo, licensed sales exempt")

    day = datetime.fromtimestamp(OffsetFileClock(server.clock_file).now(), UTC).date()
    answer = httpx.post(f"{server.url}/v1/retailer/sales",
                        headers={"Authorization": f"Bearer {key}"},
                        json={"sales": [{"device_id": "RS-SOLD", "sold_on": day.isoformat(),
                                         "territory": "IR"}]})
    assert answer.status_code == 200 and answer.json() == {"registered": 1, "refused": []}
    shown = httpx.get(f"{server.url}/v1/retailer/sales/RS-SOLD",
                      headers={"Authorization": f"Bearer {key}"}).json()
    assert (shown["territory"], shown["licensed"]) == ("IR", True)

    record = at(sold, IRAN).activate(signals={"sim_mcc": [SIM_IR]})  # verified, pinned keys
    assert record["status"] == "activated" and record["locks"] == []
    refused = at(unsold, IRAN).activate(signals={"sim_mcc": [SIM_IR]})
    assert refused["status"] == "locked"
    assert [(lock["kind"], lock["rule"]) for lock in refused["locks"]] == [
        ("territory", "embargo")]
