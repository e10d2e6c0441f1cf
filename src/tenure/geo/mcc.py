"""SIM/network mobile country codes (ITU-T E.212 MCC) → ISO 3166-1 alpha-2 country.

A device reports the MCCs of its SIMs and of the networks it sees; this table turns
them into territory evidence. An MCC names a country, never a subdivision, so a SIM
cannot tell Crimea (UA-43) from Kyiv: the domain's evidence rules account for that.

The table (`data/mcc.csv`, columns `mcc,country`) is written from the public E.212
list. It is package data, read once at import through importlib.resources (a few
hundred rows, well under a millisecond); lookups are then one dict probe.

Shared MCCs map to the principal country; the comments below the imports list the
others sharing each one.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

# Shared MCCs (mapped to the principal country, first):
# 234 GB: also Guernsey (GG), Jersey (JE) and the Isle of Man (IM).
# 242 NO: also Svalbard and Jan Mayen (SJ).
# 244 FI: also the Åland Islands (AX).
# 289 GE: Abkhazia, a region of GE with no ISO 3166-1 code of its own.
# 310 US (and 311): also Guam (GU) and the Northern Mariana Islands (MP).
# 340 GP: the French Antilles: also Martinique (MQ), Saint Barthélemy (BL), Saint Martin
#         (MF) and, in practice, French Guiana (GF), whose own MCC 742 is listed too.
# 362 CW: the former Netherlands Antilles: also Sint Maarten (SX) and Bonaire, Sint
#         Eustatius and Saba (BQ).
# 425 IL: also the Palestinian (PS) operators, which have MNCs under 425.
# 505 AU: also Norfolk Island (NF), Christmas Island (CX) and the Cocos Islands (CC).
# 604 MA: also used in Western Sahara (EH).
# 647 RE: also Mayotte (YT).
# Left out: 221 (Kosovo: "XK" is not an ISO 3166-1 code) and the shared 9xx codes (901:
# satellite, maritime and other international networks); 995 (British Indian Ocean
# Territory, IO) names a country and is kept.


def _load_table() -> dict[str, str]:
    """Parse the CSV strictly: a bad or duplicated row is a packaging bug, so fail loudly."""
    text = resources.files("tenure.geo").joinpath("data/mcc.csv").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        mcc, country = row["mcc"].strip(), row["country"].strip()
        if len(mcc) != 3 or not (mcc.isascii() and mcc.isdigit()):
            raise ValueError(f"mcc.csv: malformed MCC {mcc!r}")
        if len(country) != 2 or not (country.isascii() and country.isupper()):
            raise ValueError(f"mcc.csv: malformed country {country!r} for MCC {mcc}")
        if mcc in table:
            raise ValueError(f"mcc.csv: MCC {mcc} listed twice")
        table[mcc] = country
    return table


_TABLE: dict[str, str] = _load_table()


def country_for_mcc(mcc: str) -> str | None:
    """`"262"` → `"DE"`; None for an unassigned or malformed MCC. Never raises.

    Only the exact three-digit string is accepted ("26", "2620", " 262" are None): MCCs
    arrive from devices, and a lenient parse would let garbage become evidence.
    """
    if not isinstance(mcc, str):
        return None
    return _TABLE.get(mcc)


def known_mccs() -> dict[str, str]:
    """A copy of the whole table (for tests, admin views and the docs)."""
    return dict(_TABLE)
