"""The request's IP address → territory: one of the signals the territory policy weighs.

`IpLocator.locate(address)` answers an ISO 3166 code (`"IR"`, or `"UA-43"` when the data
has subdivisions) or None for "unknown": private, loopback, link-local, documentation,
multicast and other non-public addresses, malformed input, and addresses the data does
not cover. Unknown is never "restricted", and `locate` never raises: it is on the device
hot path, and a geolocation hiccup must not turn an activation into a 500.

Two sources:
- `EmbeddedLocator` (offline default): the data that the `geoip2fast` package ships,
  a MaxMind GeoLite2-Country snapshot (IPv4 and IPv6, countries only) frozen at the
  package's release, so it ages and knows no subdivisions.
- `MaxMindLocator(path)`: a MaxMind DB the operator keeps current (GeoIP2/GeoLite2
  Country or City; City data gives subdivisions such as UA-43). Operators who restrict
  territories should configure one.

Every answer is checked against ISO 3166 (`territories`): the data's placeholders
(`EU`, `ASIA` for blocks known only by continent, `XK` for Kosovo) become None.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any, Protocol, runtime_checkable

import structlog

from tenure.domain.errors import GeoDataError as GeoDataError  # re-exported

from .territories import is_territory

log = structlog.get_logger("tenure.geo")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address




@runtime_checkable
class IpLocator(Protocol):
    def locate(self, address: str) -> str | None:
        """ISO 3166-1 alpha-2 or ISO 3166-2 code, or None for unknown; never raises."""
        ...


def public_address(address: str) -> IPAddress | None:
    """Parse strictly and keep only globally routable unicast addresses.

    `ipaddress` refuses the loose forms (`127.1`, `0x7f.1`) that `inet_aton` accepts.
    An IPv4-mapped IPv6 address (`::ffff:8.8.8.8`, what a dual-stack socket reports
    for an IPv4 client) is unwrapped to its IPv4 address. Zone-scoped addresses
    (`fe80::1%eth0`) are link-local by nature and refused.
    """
    if not isinstance(address, str) or "%" in address:
        return None
    try:
        ip: IPAddress = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        return None
    return ip


def _territory(code: object) -> str | None:
    """Keep a data source's answer only when it is a real ISO 3166 code."""
    if isinstance(code, str) and is_territory(code):
        return code.strip().upper()
    return None


class EmbeddedLocator:
    """Countries from the data `geoip2fast` ships: no download, no configuration.

    geoip2fast keeps its tables in module globals, so one engine serves the process
    (every EmbeddedLocator shares it). It is loaded lazily, once, under a lock: about
    0.1 s and ~50 MiB for the IPv4+IPv6 file, which is why nothing loads at import.
    A lookup is a bisect over sorted lists and needs no lock: measured ~7 µs for IPv4
    and ~17 µs for IPv6, address validation included.
    """

    DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 *and* IPv6 (the plain file is IPv4-only)

    _engine: Any = None
    _lock = threading.Lock()

    def load(self) -> None:
        """Load now (call at start-up to keep the cost off the first request)."""
        self._get_engine()

    @classmethod
    def _get_engine(cls) -> Any:
        if cls._engine is None:
            with cls._lock:
                if cls._engine is None:
                    cls._engine = _open_geoip2fast(cls.DATA_FILE)
        return cls._engine

    def locate(self, address: str) -> str | None:
        ip = public_address(address)
        if ip is None:
            return None
        try:
            result = self._get_engine().lookup(str(ip))
        except Exception:  # the library's own failures must not reach the request
            log.warning("geoip_lookup_failed", source="embedded", exc_info=True)
            return None
        if getattr(result, "is_private", False):
            return None
        return _territory(getattr(result, "country_code", None))


def _open_geoip2fast(data_file: str) -> Any:
    """Import and load geoip2fast, undoing the environment changes its import makes.

    Importing geoip2fast sets PYTHONWARNINGS=ignore and PYTHONIOENCODING=utf-8 in
    os.environ, which every subprocess we start would inherit; those are restored.
    """
    saved = {k: os.environ.get(k) for k in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    try:
        import geoip2fast
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    path = os.path.join(os.path.dirname(geoip2fast.__file__), data_file)
    try:
        return geoip2fast.GeoIP2Fast(geoip2fast_data_file=path)
    except Exception as exc:
        raise GeoDataError(f"cannot load the embedded IP data {path}: {exc}") from exc


class MaxMindLocator:
    """A MaxMind-format database (GeoIP2/GeoLite2 Country or City, or one built alike).

    With City data the answer is the first (largest) subdivision, `UA-43`, when the
    database has one that ISO 3166-2 knows, else the country. The file is memory-mapped
    through the C extension (measured ~6 µs for IPv4, ~7 µs for IPv6, address validation
    included); concurrent reads are safe.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import maxminddb

        self.path = os.fspath(path)
        try:
            self._reader = maxminddb.open_database(self.path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoDataError(
                f"cannot open the GeoIP database {self.path!r}: {exc}"
                " (expected a MaxMind DB file such as GeoLite2-City.mmdb)"
            ) from exc

    def locate(self, address: str) -> str | None:
        ip = public_address(address)
        if ip is None:
            return None
        try:
            record = self._reader.get(ip)
        except ValueError:  # an IPv6 address asked of an IPv4-only database
            return None
        except Exception:  # corrupt data past the header, or a closed reader
            log.warning("geoip_lookup_failed", source=self.path, exc_info=True)
            return None
        return _from_record(record)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> MaxMindLocator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _from_record(record: object) -> str | None:
    """`{"country": {"iso_code": "UA"}, "subdivisions": [{"iso_code": "43"}]}` → `UA-43`.

    Only `country` (where the address is) counts; `registered_country` (who holds the
    block) is not evidence of location and is ignored.
    """
    if not isinstance(record, dict):
        return None
    country = record.get("country")
    code = country.get("iso_code") if isinstance(country, dict) else None
    country_code = _territory(code)
    if country_code is None or "-" in country_code:
        return None
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        sub = subdivisions[0].get("iso_code")
        if isinstance(sub, str) and (full := _territory(f"{country_code}-{sub}")) is not None:
            return full
    return country_code


def locator_from_settings(geoip_db: str | None) -> IpLocator:
    """MaxMind when the operator configured a database path, else the embedded data."""
    if geoip_db:
        return MaxMindLocator(geoip_db)
    return EmbeddedLocator()
