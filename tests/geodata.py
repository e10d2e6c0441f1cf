"""Small MaxMind-format databases for tests, written with mmdb-writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

Records = list[tuple[list[str], dict[str, Any]]]


def write_city_db(path: Path, records: Records, ip_version: int = 6) -> Path:
    """A GeoIP2-City shaped database; IPv4 lives under ::/96 in an IPv6 tree, where
    maxminddb looks it up."""
    writer = MMDBWriter(ip_version=ip_version, ipv4_compatible=ip_version == 6,
                        database_type="GeoIP2-City", languages=["en"],
                        description="Tenure test database")
    for networks, record in records:
        writer.insert_network(IPSet(networks), record)
    writer.to_db_file(str(path))
    return path


def country(code: str, subdivision: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"country": {"iso_code": code}}
    if subdivision:
        record["subdivisions"] = [{"iso_code": subdivision}]
    return record
