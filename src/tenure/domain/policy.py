"""Territory policy: which products may be activated or used where.

A policy names markets (sets of territories) and rules. Each rule matches products
(models, SKUs, provisioning markets; empty = all), lists territories (ISO 3166 codes,
`@market` references, or `*` for anywhere), and has an effect:

- `deny_activation`: activation there is refused;
- `lock_in_use`: activation is refused, and devices in use there are locked after
  `grace_hours` of corroborated presence, warned `notice_hours` before;
- `allow`: an exception that overrides a less specific restriction.

A restricting rule with `exempt_licensed_sales` does not restrict a device sold, in the
territory where it now is, by a retailer the operator licensed there on the day of the
sale (docs/retailers.md): where such a rule wins, that device is as free as under `allow`.

Precedence, for each territory the device is in: the rule whose territory entry is
most specific wins (subdivision > country > market > `*`); then the rule whose match is
most specific (SKUs > models > markets > everything); then `allow` over `lock_in_use`
over `deny_activation`; then the rule written first. When the device is in several
territories at once, the most severe winner applies.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PolicyError as PolicyError  # re-exported: callers import it here
from .model import Device, Sale
from .policy_text import MAX_CONTACT, checked_text, read_texts, verdict_texts
from .territory import MODES, Presence, is_subdivision, is_within
from .text import text_problem
from .wording import Phrase

EFFECTS = ("deny_activation", "lock_in_use", "allow")
_SEVERITY = {"allow": 0, "deny_activation": 1, "lock_in_use": 2}
_TIE_BREAK = {"deny_activation": 0, "lock_in_use": 1, "allow": 2}



@dataclass(frozen=True, slots=True)
class Match:
    models: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    markets: tuple[str, ...] = ()

    def covers(self, device: Device) -> bool:
        return (
            (not self.models or device.model in self.models)
            and (not self.skus or device.sku in self.skus)
            and (not self.markets or device.market in self.markets)
        )

    @property
    def level(self) -> int:
        return 3 if self.skus else 2 if self.models else 1 if self.markets else 0


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    effect: str
    territories: tuple[str, ...]  # codes, "@market" or "*"
    match: Match = Match()
    message: str = ""
    contact: str = ""
    grace_hours: float = 0.0
    notice_hours: float = 0.0
    exempt_licensed_sales: bool = False
    messages: tuple[tuple[str, str], ...] = ()  # language → the rule's message in it


@dataclass(frozen=True, slots=True)
class Policy:
    maker: str = "the manufacturer"
    contact: str = "the retailer"
    evidence: str = "corroborated"
    markets: Mapping[str, tuple[str, ...]] = None  # type: ignore[assignment]
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        if self.markets is None:
            object.__setattr__(self, "markets", {})

    @property
    def exempts_sales(self) -> bool:
        """Does any rule exempt licensed sales? (Only then is a device's sale looked up.)"""
        return any(rule.exempt_licensed_sales for rule in self.rules)

    def coverage(self, entry: str, territory: str) -> int | None:
        """How specifically `entry` covers `territory` (None: it does not)."""
        if entry == "*":
            return 0
        if entry.startswith("@"):
            members = self.markets.get(entry[1:], ())
            return 1 if any(is_within(territory, m) for m in members) else None
        if is_within(territory, entry):
            return 3 if is_subdivision(entry) else 2
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy says about this device where it is, and why."""

    effect: str
    rule_id: str
    territory: str
    message: str  # shown when activation is refused
    contact: str
    grace_hours: float = 0.0
    notice_hours: float = 0.0
    in_use_message: str = ""  # shown on a device locked while in use
    # The same texts in the reader's language (services/lock_text.py): the catalog
    # defaults (None where the rule has its own message), the warning before an in-use
    # lock (the caller adds its `when`), and the rule's own message per language.
    phrase: Phrase | None = None
    in_use_phrase: Phrase | None = None
    notice_phrase: Phrase | None = None
    wordings: tuple[tuple[str, str], ...] = ()

    @property
    def refuses_activation(self) -> bool:
        return self.effect in ("deny_activation", "lock_in_use")


def _winner(policy: Policy, device: Device, territory: str) -> Rule | None:
    best: tuple[tuple[int, int, int, int], Rule] | None = None
    for index, rule in enumerate(policy.rules):
        if not rule.match.covers(device):
            continue
        levels = [policy.coverage(entry, territory) for entry in rule.territories]
        covered = [level for level in levels if level is not None]
        if not covered:
            continue
        rank = (max(covered), rule.match.level, _TIE_BREAK[rule.effect], -index)
        if best is None or rank > best[0]:
            best = (rank, rule)
    return best[1] if best else None


def winning_rule(policy: Policy, device: Device, territory: str) -> Rule | None:
    """The rule that decides `territory` for this device by the precedence above (None:
    no rule covers it); `*` asks what holds where no rule names a territory."""
    return _winner(policy, device, territory)


def sale_exempts(rule: Rule, territory: str, sale: Sale | None) -> bool:
    """Does the device's registered sale exempt it from `rule` in `territory`? Only a
    licensed sale, and only where the device is within the territory it was sold in."""
    return (rule.exempt_licensed_sales and sale is not None and sale.licensed
            and is_within(territory, sale.territory))


def verdict(policy: Policy, device: Device, presence: Presence,
            sale: Sale | None = None, exempt: Collection[str] = ()) -> Verdict | None:
    """The restriction that applies, or None when the device is free where it is.

    `sale`: the device's registered retail sale, if any (see `sale_exempts`).
    `exempt`: rule ids a granted appeal exempted this device from. Where such a rule
    wins, the device is as free as under an `allow` (no less specific rule takes over:
    the appeal covered what restricted the device where it was)."""
    chosen: tuple[Rule, str] | None = None
    for territory in presence.territories:
        rule = _winner(policy, device, territory)
        if (rule is None or rule.effect == "allow" or rule.rule_id in exempt
                or sale_exempts(rule, territory, sale)):
            continue
        if chosen is None or _SEVERITY[rule.effect] > _SEVERITY[chosen[0].effect]:
            chosen = (rule, territory)
    if chosen is None:
        return None
    rule, territory = chosen
    contact = rule.contact or policy.contact
    fill = {"maker": policy.maker, "contact": contact, "territory": territory}
    return Verdict(
        effect=rule.effect, rule_id=rule.rule_id, territory=territory, contact=contact,
        grace_hours=rule.grace_hours, notice_hours=rule.notice_hours,
        **verdict_texts(rule.message, rule.messages, fill))


# -- reading a policy document -------------------------------------------------------------

# Lengths that fit where the texts go: rule ids into claim holders (`policy:<id>`, 64),
# contacts into claims (255), models and SKUs as provisioned (64).
MAX_RULE_ID = 48
MAX_NAME = 64
MAX_HOURS = 24 * 365 * 10  # ten years; beyond that a deadline is not a deadline


def _strings(value: Any, where: str, problems: list[str],
             max_length: int = MAX_NAME) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: must be a list of non-empty strings")
        return ()
    for item in value:
        problem = text_problem(item, max_length=max_length)
        if problem is not None:
            problems.append(f"{where}: {item[:20]!r} {problem}")
            return ()
    return tuple(value)


_TOP_LEVEL = frozenset({"maker", "contact", "evidence", "markets", "rules", "description"})
_RULE_KEYS = frozenset({"id", "effect", "territories", "match", "message", "messages",
                        "contact", "grace_hours", "notice_hours", "exempt_licensed_sales"})
_MATCH_KEYS = ("models", "skus", "markets")


class _Reader:
    """Collects every problem of one document while its parts are read, so an operator
    sees them all at once instead of fixing one per run."""

    def __init__(self, territory: Callable[[str], str], languages: Collection[str]) -> None:
        self.territory = territory
        self.languages = languages
        self.problems: list[str] = []

    def code(self, value: str, where: str) -> str:
        try:
            return self.territory(value)
        except ValueError as exc:
            self.problems.append(f"{where}: {exc}")
            return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        return _strings(value, where, self.problems)


def _read_settings(doc: Mapping[str, Any], r: _Reader) -> str:
    """Unknown top-level keys; returns the evidence mode."""
    for key in doc:
        if key not in _TOP_LEVEL:
            r.problems.append(f"{key}: unknown setting (known: {', '.join(sorted(_TOP_LEVEL))})")
    evidence = doc.get("evidence", "corroborated")
    if evidence not in MODES:
        r.problems.append(f"evidence: must be one of {', '.join(MODES)}, not {evidence!r}")
    return str(evidence)


def _read_markets(doc: Mapping[str, Any], r: _Reader) -> dict[str, tuple[str, ...]]:
    raw = doc.get("markets", {})
    if not isinstance(raw, dict):
        r.problems.append("markets: must be a table of name = [territories]")
        return {}
    markets = {}
    for name, members in raw.items():
        if text_problem(name, max_length=MAX_NAME) is not None:
            r.problems.append(f"markets: {name[:20]!r} is not a usable market name")
            continue
        markets[name] = tuple(r.code(v, f"markets.{name}")
                              for v in r.strings(members, f"markets.{name}"))
    return markets


def _read_rule_id(raw: Mapping[str, Any], index: int, seen: set[str], r: _Reader) -> str:
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        r.problems.append(f"rules[{index}]: needs an id")
        rule_id = f"#{index}"
    elif (problem := text_problem(rule_id, max_length=MAX_RULE_ID)) is not None:
        r.problems.append(f"rules[{index}]: id {problem}")
        rule_id = f"#{index}"
    elif rule_id in seen:
        r.problems.append(f"rules[{index}]: id {rule_id!r} is used twice")
    seen.add(rule_id)
    return rule_id


def _read_effect(raw: Mapping[str, Any], where: str, r: _Reader) -> str:
    effect = raw.get("effect")
    if effect not in EFFECTS:
        r.problems.append(f"{where}: effect must be one of {', '.join(EFFECTS)}")
        return "deny_activation"
    return str(effect)


def _read_territories(raw: Mapping[str, Any], where: str, markets: Mapping[str, Any],
                      r: _Reader) -> tuple[str, ...]:
    entries = r.strings(raw.get("territories"), f"{where}.territories")
    if not entries:
        r.problems.append(f"{where}: needs at least one territory")
    territories = []
    for entry in entries:
        if entry == "*":
            territories.append(entry)
        elif entry.startswith("@"):
            if entry[1:] not in markets:
                r.problems.append(f"{where}.territories: no market named {entry[1:]!r}")
            territories.append(entry)
        else:
            territories.append(r.code(entry, f"{where}.territories"))
    return tuple(territories)


def _read_match(raw: Mapping[str, Any], where: str, r: _Reader) -> Match:
    raw_match = raw.get("match", {})
    if not isinstance(raw_match, dict) or set(raw_match) - set(_MATCH_KEYS):
        r.problems.append(f"{where}.match: may only have models, skus and markets")
        raw_match = {}
    return Match(*(r.strings(raw_match.get(k), f"{where}.match.{k}") for k in _MATCH_KEYS))


def _read_hours(raw: Mapping[str, Any], where: str, effect: str,
                r: _Reader) -> dict[str, float]:
    hours = {}
    for name in ("grace_hours", "notice_hours"):
        value = raw.get(name, 0)
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not 0 <= value <= MAX_HOURS):
            r.problems.append(f"{where}.{name}: must be a number of hours from 0 to "
                              f"{MAX_HOURS}")
            value = 0
        elif value and effect != "lock_in_use":
            r.problems.append(f"{where}.{name}: only applies to lock_in_use rules")
        hours[name] = float(value)
    return hours


def _read_rule(raw: Mapping[str, Any], index: int, seen: set[str],
               markets: Mapping[str, Any], r: _Reader) -> Rule:
    rule_id = _read_rule_id(raw, index, seen, r)
    where = f"rules[{index}] ({rule_id})"
    extra = set(raw) - _RULE_KEYS
    if extra:
        r.problems.append(f"{where}: unknown keys {', '.join(sorted(extra))}")
    effect = _read_effect(raw, where, r)
    territories = _read_territories(raw, where, markets, r)
    match = _read_match(raw, where, r)
    hours = _read_hours(raw, where, effect, r)
    texts = read_texts(raw, where, r.languages, r.problems)
    exempt = raw.get("exempt_licensed_sales", False)
    if not isinstance(exempt, bool):
        r.problems.append(f"{where}.exempt_licensed_sales: must be true or false")
    elif exempt and effect == "allow":
        r.problems.append(f"{where}.exempt_licensed_sales: only applies to restricting rules")
    return Rule(rule_id, effect, territories, match, texts["message"], texts["contact"],
                hours["grace_hours"], hours["notice_hours"], exempt is True, texts["messages"])


def _read_rules(doc: Mapping[str, Any], markets: Mapping[str, Any],
                r: _Reader) -> tuple[Rule, ...]:
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        r.problems.append("rules: must be an array of tables ([[rules]])")
        return ()
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            r.problems.append(f"rules[{index}]: must be a table")
            continue
        rules.append(_read_rule(raw, index, seen, markets, r))
    return tuple(rules)


def parse_policy(doc: Mapping[str, Any], territory: Callable[[str], str],
                 languages: Collection[str] = ()) -> Policy:
    """Build a Policy from a decoded TOML document; `territory` normalises an ISO code
    or raises ValueError; `languages` are those a rule's `messages` may be given in (the
    server's catalogs). Raises PolicyError listing every problem."""
    reader = _Reader(territory, languages)
    evidence = _read_settings(doc, reader)
    markets = _read_markets(doc, reader)
    rules = _read_rules(doc, markets, reader)
    for name in ("maker", "contact"):
        if name in doc:
            checked_text(doc[name], name, reader.problems, MAX_CONTACT)
    if reader.problems:
        raise PolicyError(reader.problems)
    defaults = Policy()
    return Policy(
        maker=doc.get("maker", defaults.maker), contact=doc.get("contact", defaults.contact),
        evidence=evidence, markets=markets, rules=rules,
    )
