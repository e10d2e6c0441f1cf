"""Admin API keys: shown once, stored as digests, scoped by role, revocable."""

from __future__ import annotations

import pytest

from tenure.domain.errors import Forbidden, InvalidInput, Unauthorized
from tenure.services.apikeys import ApiKeys

from .conftest import World


def test_a_key_authorises_its_role_and_admin_every_role(world: World) -> None:
    keys = ApiKeys(world.uow, world.clock)
    factory = keys.create("factory", "line 3")
    assert factory.startswith("tnr_")
    assert keys.require_role(factory, "factory").name == "line 3"
    with pytest.raises(Forbidden):
        keys.require_role(factory, "policy")
    admin = keys.create("admin", "ops")
    assert keys.require_role(admin, "policy").role == "admin"
    (row, _) = keys.all_keys()
    secret = factory.removeprefix("tnr_").partition("_")[2]
    assert secret not in row.secret_hash and len(row.secret_hash) == 64  # a digest only
    assert world.uow.actions("system") == ["apikey.created", "apikey.created"]


def test_a_revoked_key_no_longer_works(world: World) -> None:
    keys = ApiKeys(world.uow, world.clock)
    secret = keys.create("policy", "team")
    key_id = secret.split("_")[1]
    assert keys.revoke(key_id)
    assert not keys.revoke(key_id)  # once
    with pytest.raises(Unauthorized):
        keys.require_role(secret, "policy")


@pytest.mark.parametrize("presented", [None, "", "Bearer", "tnr_", "tnr_nosecret",
                                       "tnr_abc_wrong"])
def test_missing_malformed_or_unknown_keys_are_unauthorized(world: World,
                                                            presented: str | None) -> None:
    ApiKeys(world.uow, world.clock).create("factory", "x")
    with pytest.raises(Unauthorized):
        ApiKeys(world.uow, world.clock).require_role(presented, "factory")


def test_a_key_with_a_forged_secret_is_unauthorized(world: World) -> None:
    keys = ApiKeys(world.uow, world.clock)
    key_id = keys.create("factory", "x").split("_")[1]
    with pytest.raises(Unauthorized):
        keys.require_role(f"tnr_{key_id}_forged", "factory")


def test_unknown_roles_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        ApiKeys(world.uow, world.clock).create("root", "x")


@pytest.mark.parametrize("name", ["a\udcffb", "nul\x00", "\x1b[2Jclear", "", "x" * 201])
def test_a_key_name_is_text_a_person_can_read(world: World, name: str) -> None:
    """`--name $'a\\xffb'` on the CLI arrives as a lone surrogate: refused, not a crash."""
    with pytest.raises(InvalidInput, match="'name'"):
        ApiKeys(world.uow, world.clock).create("factory", name)
    assert ApiKeys(world.uow, world.clock).all_keys() == []
