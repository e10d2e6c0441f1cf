"""IP → territory: MaxMind-format databases built here with mmdb-writer, and the
embedded geoip2fast data.

The test databases are IPv6 trees with the IPv4 networks stored under ::/96, where
MaxMind readers look IPv4 addresses up (`ipv4_compatible=True`); one IPv4-only tree
checks that an IPv6 question to it is "unknown", not an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tenure.geo import (
    EmbeddedLocator,
    GeoDataError,
    IpLocator,
    MaxMindLocator,
    locator_from_settings,
    public_address,
)
from tenure.geo import ip as ip_module
from tests.geodata import write_city_db

CITY_RECORDS: list[tuple[list[str], dict[str, Any]]] = [
    (["91.200.0.0/16"], {"country": {"iso_code": "UA"}, "subdivisions": [{"iso_code": "43"}]}),
    (["5.22.0.0/17"], {"country": {"iso_code": "IR"}}),
    (["2a0d:1a40:1::/48"], {"country": {"iso_code": "KP"}}),
    (["2a0d:1a40:2::/48"], {"country": {"iso_code": "UA"}, "subdivisions": [{"iso_code": "40"}]}),
    # A subdivision ISO 3166-2 does not know: fall back to the country.
    (["31.43.0.0/16"], {"country": {"iso_code": "UA"}, "subdivisions": [{"iso_code": "99"}]}),
    # Known only by who registered the block, or by a non-ISO code: unknown.
    (["45.10.0.0/16"], {"registered_country": {"iso_code": "NL"}}),
    (["46.99.0.0/16"], {"country": {"iso_code": "XK"}}),
    (["62.1.0.0/16"], {"country": {"iso_code": "EU"}}),
    # Data covering non-public ranges must not turn them into evidence.
    (["10.0.0.0/8", "127.0.0.0/8", "2001:db8::/32"], {"country": {"iso_code": "DE"}}),
]


def _write(path: Path, records: list[tuple[list[str], dict[str, Any]]], ip_version: int) -> Path:
    return write_city_db(path, records, ip_version)


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("geo") / "city.mmdb", CITY_RECORDS, 6)


@pytest.fixture()
def locator(city_db: Path) -> Any:
    with MaxMindLocator(city_db) as found:
        yield found


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("91.200.12.34", "UA-43"),
        ("::ffff:91.200.12.34", "UA-43"),  # IPv4-mapped, as a dual-stack socket reports it
        ("5.22.1.1", "IR"),
        ("2a0d:1a40:1::1", "KP"),
        ("2A0D:1A40:1:ffff::1", "KP"),
        ("2a0d:1a40:2::5", "UA-40"),
        ("31.43.0.1", "UA"),
    ],
)
def test_maxmind_city_answers(locator: MaxMindLocator, address: str, expected: str) -> None:
    assert locator.locate(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",  # outside every network in the test database
        "2a0d:1a40:3::1",
        "45.10.0.1",  # registered_country only
        "46.99.0.1",  # XK is not ISO 3166-1
        "62.1.0.1",  # EU is a continent placeholder
    ],
)
def test_maxmind_unknown(locator: MaxMindLocator, address: str) -> None:
    assert locator.locate(address) is None


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "127.0.0.1", "::1", "192.168.1.1", "169.254.1.1", "100.64.0.1", "fe80::1",
     "fe80::1%eth0", "fc00::1", "2001:db8::1", "224.0.0.1", "ff02::1", "255.255.255.255",
     "::", "::ffff:10.0.0.1", "0.0.0.0"],  # noqa: S104 (an address to refuse, not to bind)
)
def test_non_public_addresses_are_unknown(locator: MaxMindLocator, address: str) -> None:
    assert locator.locate(address) is None
    assert public_address(address) is None


@pytest.mark.parametrize(
    "address",
    ["", "abc", "1.2.3", "127.1", "0x7f.0.0.1", "999.1.1.1", "8.8.8.8/32", "[::1]", "1::2::3",
     None, 134744072, b"8.8.8.8"],
)
def test_malformed_input_is_unknown(locator: MaxMindLocator, address: object) -> None:
    assert locator.locate(address) is None  # type: ignore[arg-type]


def test_country_database_and_ipv4_only_tree(tmp_path: Path) -> None:
    records: list[tuple[list[str], dict[str, Any]]] = [
        (["5.22.0.0/17"], {"country": {"iso_code": "IR"}}),
    ]
    path = _write(tmp_path / "country.mmdb", records, 4)
    with MaxMindLocator(path) as locator:
        assert locator.locate("5.22.0.9") == "IR"
        assert locator.locate("2a0d:1a40:1::1") is None  # IPv6 asked of an IPv4-only tree


def test_missing_file_is_a_geo_data_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "GeoLite2-City.mmdb"
    with pytest.raises(GeoDataError, match="GeoLite2-City.mmdb") as info:
        MaxMindLocator(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("content", [b"", b"not a maxmind database" * 100])
def test_corrupt_file_is_a_geo_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.mmdb"
    path.write_bytes(content)
    with pytest.raises(GeoDataError, match=str(path)):
        MaxMindLocator(path)


def test_directory_is_a_geo_data_error(tmp_path: Path) -> None:
    with pytest.raises(GeoDataError):
        MaxMindLocator(tmp_path)


def test_locator_from_settings(city_db: Path) -> None:
    embedded = locator_from_settings("")
    assert isinstance(embedded, EmbeddedLocator)
    chosen = locator_from_settings(str(city_db))
    assert isinstance(chosen, MaxMindLocator)
    assert isinstance(chosen, IpLocator) and isinstance(embedded, IpLocator)
    assert chosen.locate("91.200.0.1") == "UA-43"
    chosen.close()
    with pytest.raises(GeoDataError):
        locator_from_settings(str(city_db) + ".missing")


# -- the embedded (geoip2fast) data -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [("8.8.8.8", "US"), ("2001:4860:4860::8888", "US"), ("::ffff:8.8.8.8", "US")],
)
def test_embedded_well_known_addresses(address: str, expected: str) -> None:
    assert EmbeddedLocator().locate(address) == expected


@pytest.mark.parametrize("address", ["1.1.1.1", "2a00:1450:4001:80b::200e", "2a02:2698::1"])
def test_embedded_public_addresses_give_a_country(address: str) -> None:
    code = EmbeddedLocator().locate(address)
    assert code is not None and len(code) == 2 and code.isupper()


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.1", "::1", "192.168.0.1", "fe80::1", "2001:db8::1",
                "100.64.0.1", "abc", "", "127.1"]
)
def test_embedded_unknown(address: str) -> None:
    assert EmbeddedLocator().locate(address) is None


def test_embedded_loads_once_under_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_open = ip_module._open_geoip2fast

    def counting_open(data_file: str) -> Any:
        calls.append(data_file)
        return real_open(data_file)

    monkeypatch.setattr(EmbeddedLocator, "_engine", None)
    monkeypatch.setattr(ip_module, "_open_geoip2fast", counting_open)
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(EmbeddedLocator().locate("8.8.8.8"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [EmbeddedLocator.DATA_FILE]
    assert results == ["US"] * 8


def test_embedded_leaves_the_process_environment_alone() -> None:
    """geoip2fast's import sets PYTHONWARNINGS=ignore for every child process; not here."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    code = (
        "import os; from tenure.geo import EmbeddedLocator; EmbeddedLocator().load(); "
        "print(os.environ.get('PYTHONWARNINGS'), os.environ.get('PYTHONIOENCODING'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["None", "None"]
