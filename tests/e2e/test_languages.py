"""The screen's language end to end: `tenure device ... --locale` makes the reference
agent send `locale` with its activations and check-ins, and the server answers with the
policy rule's message in that language (docs/protocol.md, "The device's language")."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ServerProcess

pytestmark = pytest.mark.e2e

POLICY = """
maker = "Example Phones"
contact = "your retailer"

[[rules]]
id = "iran"
effect = "deny_activation"
territories = ["IR"]
message = "Example Phones cannot be set up in {territory}."
messages.de = "Example Phones kann in {territory} nicht eingerichtet werden."
"""
SIM_IR = "432"


def test_the_agent_sends_the_language_the_user_chose_and_forgets_it_at_a_reset(
        territory_server: ServerProcess, tmp_path: Path) -> None:
    server = territory_server
    (tmp_path / "policy.toml").write_text(POLICY)
    server.cli("policy", "apply", str(tmp_path / "policy.toml"), "--reason", "languages")
    state = str(tmp_path / "phone")
    row = server.cli("device", "--state", state, "init", "--server", server.url, "--id", "LANG-1")
    (tmp_path / "phone.csv").write_text(row.stdout)
    server.cli("provision", "import", str(tmp_path / "phone.csv"))

    def activate(*extra: str) -> str:
        done = server.cli("device", "--state", state, "activate", "--sim-mcc", SIM_IR, *extra,
                          check=False)
        assert done.returncode == 4, done.stderr  # locked: Iran refuses activation
        return done.stdout

    assert "kann in IR nicht eingerichtet werden" in activate("--locale", "de-AT")
    assert "kann in IR nicht eingerichtet werden" in activate()  # the choice is kept
    assert "cannot be set up in IR" in activate("--locale", "en")
    activate("--locale", "de")
    server.cli("device", "--state", state, "factory-reset")
    assert "cannot be set up in IR" in activate()  # the set-up screen asks again
