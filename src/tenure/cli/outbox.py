"""`tenure outbox ...`: what waits in the two outboxes (mail, tenants' webhook events),
what failed and why, and putting failed deliveries back in the queue.

`tenure serve` delivers both by itself; this is the operator's window on them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tenure.domain.errors import InvalidInput

if TYPE_CHECKING:
    from tenure.services.outbox_admin import OutboxAdmin
    from tenure.services.ports import MailEntry, QueueCounts, WebhookEvent


def _admin() -> OutboxAdmin:
    from .server import app_services

    return app_services().outbox


def _when(at: int | None) -> str:
    from tenure.services.notices import when

    return "-" if at is None else when(at)


def _counts(name: str, counts: QueueCounts, failed: str) -> str:
    return (f"{name}: {counts.pending} pending, {counts.failed} {failed}, "
            f"{counts.delivered_recently} delivered in the last 24 h")


def _event_line(e: WebhookEvent) -> str:
    state = "failed" if e.failed_at is not None else "pending"
    at = (f"failed {_when(e.failed_at)}" if e.failed_at is not None
          else f"next {_when(e.next_attempt_at)}")
    return (f"webhook\t{e.event_id}\t{state}\t{e.event}\ttenant {e.tenant_id}\t"
            f"device {e.device_id} #{e.seq}\tcreated {_when(e.created_at)}\t"
            f"{e.attempts} attempts\t{at}\t{e.last_error or '-'}")


def _mail_line(m: MailEntry) -> str:
    state = "retrying" if m.last_error else "pending"
    return (f"mail\t{m.message_id}\t{state}\t{m.subject}\tcreated {_when(m.created_at)}\t"
            f"{m.attempts} attempts\tnext {_when(m.next_attempt_at)}\t{m.last_error or '-'}")


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InvalidInput("--limit must be at least 1")
    report = _admin().report(args.failed, args.tenant, args.limit)
    if report.mail is not None:
        print(_counts("mail", report.mail, "retrying after a failure"))
    scope = f"webhooks of {args.tenant}" if args.tenant else "webhooks"
    print(_counts(scope, report.webhooks, "failed"))
    for message in report.mail_entries:
        print(_mail_line(message))
    for event in report.events:
        print(_event_line(event))
    shown = len(report.mail_entries) + len(report.events)
    if shown and (len(report.mail_entries) == args.limit or len(report.events) == args.limit):
        print(f"(at most {args.limit} of each shown; --limit N shows more)")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    admin = _admin()
    if args.all_failed == bool(args.entry_id):
        raise InvalidInput("give one EVENT_ID (or mail message id), or --all-failed")
    if args.tenant and not args.all_failed:
        raise InvalidInput("--tenant goes with --all-failed")
    if args.entry_id:
        what = admin.retry(args.entry_id)
        print(f"requeued {what} {args.entry_id}; tenure serve sends it within seconds")
        return 0
    events, messages = admin.retry_all_failed(args.tenant)
    print(f"requeued {events} webhook events and {messages} messages")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "outbox", help="mail and webhook events waiting or failed; requeue failed ones",
        description="The two outboxes tenure serve delivers from: mail, and tenants' "
                    "webhook events (retried with back-off for 3 days, then marked failed).")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser(
        "list", help="counts, then every pending or failed entry with its last error",
        description="Counts of pending, failed and recently delivered mail and webhook "
                    "events, then one tab-separated line per open entry, oldest first: "
                    "kind, id, state, what, attempts, next attempt or failure time, last "
                    "error. Mail lines show the subject, never the address.")
    listing.add_argument("--failed", action="store_true",
                         help="only failed webhook events and mail whose last attempt failed")
    listing.add_argument("--tenant", metavar="TENANT_ID",
                         help="only this tenant's webhook events (no mail)")
    listing.add_argument("--limit", type=int, default=100,
                         help="at most this many lines of each kind (default 100)")
    listing.set_defaults(handler=cmd_list)

    retry = sub.add_parser(
        "retry", help="requeue a failed webhook event or message, or all failed ones",
        description="Put failed deliveries back in the queue, due now. A webhook event "
                    "gets 3 more days of retries; it goes out when it is again the first "
                    "open event of its device.")
    retry.add_argument("entry_id", nargs="?", metavar="EVENT_ID",
                       help="the webhook event id (or mail message id) from tenure outbox list")
    retry.add_argument("--all-failed", action="store_true",
                       help="every failed webhook event and every failed message")
    retry.add_argument("--tenant", metavar="TENANT_ID",
                       help="with --all-failed: only this tenant's webhook events")
    retry.set_defaults(handler=cmd_retry)
