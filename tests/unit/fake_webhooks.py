"""The delivery side of the webhook outbox, in memory (the `Webhooks` port over the
events `FakeEvents.emit` writes), and a webhook sender that answers as a test says."""

from __future__ import annotations

import json
from typing import Any

from tenure.services.ports import GIVE_UP_SECONDS, QueueCounts, WebhookEvent

from .fake_repositories import _Repo

__all__ = ["FakeWebhooks", "MemorySender"]


class FakeWebhooks(_Repo):
    def _row(self, event_id: str) -> dict[str, Any] | None:
        return next((e for e in self.s.events if e["event_id"] == event_id), None)

    def _view(self, e: dict[str, Any]) -> WebhookEvent:
        tenant = self.s.tenants[e["tenant_id"]]
        return WebhookEvent(
            e["event_id"], e["tenant_id"], e["device_id"], e["seq"], e["event"],
            json.dumps(e["payload"], sort_keys=True), e["created_at"],
            e.get("next_attempt_at", e["created_at"]), e.get("attempts", 0),
            e.get("last_error"), e.get("delivered_at"), e.get("failed_at"),
            e.get("give_up_at") or e["created_at"] + GIVE_UP_SECONDS,
            tenant.webhook_url, tenant.disabled_at is not None)

    @staticmethod
    def _open(e: dict[str, Any]) -> bool:
        return e.get("delivered_at") is None and e.get("failed_at") is None

    def _is_head(self, e: dict[str, Any]) -> bool:
        return self._open(e) and not any(
            self._open(o) and o["tenant_id"] == e["tenant_id"]
            and o["device_id"] == e["device_id"] and o["seq"] < e["seq"]
            for o in self.s.events)

    def due_tenants(self, now: int, limit: int) -> list[str]:
        due = [self._view(e) for e in self.s.events if self._is_head(e)]
        due = sorted((e for e in due if e.next_attempt_at <= now),
                     key=lambda e: e.next_attempt_at)
        return list(dict.fromkeys(e.tenant_id for e in due))[:limit]

    def heads(self, now: int, limit: int, tenant_id: str | None = None
              ) -> list[WebhookEvent]:
        found = [self._view(e) for e in self.s.events if self._is_head(e)
                 and tenant_id in (None, e["tenant_id"])]
        due = [e for e in found if e.next_attempt_at <= now]
        return sorted(due, key=lambda e: (e.next_attempt_at, e.created_at, e.seq))[:limit]

    def head(self, tenant_id: str, device_id: str, now: int) -> WebhookEvent | None:
        found = [self._view(e) for e in self.s.events if self._is_head(e)
                 and (e["tenant_id"], e["device_id"]) == (tenant_id, device_id)]
        return found[0] if found and found[0].next_attempt_at <= now else None

    def lease(self, event: WebhookEvent, now: int, seconds: int) -> bool:
        row = self._row(event.event_id)
        if row is None or not self._is_head(row) or self._view(row).next_attempt_at > now:
            return False
        row["next_attempt_at"] = now + seconds
        return True

    def delivered(self, event_id: str, now: int) -> bool:
        row = self._row(event_id)
        if row is None or row.get("delivered_at") is not None:
            return False
        row["delivered_at"], row["failed_at"] = now, None
        return True

    def retry_at(self, event_id: str, attempts: int, at: int, error: str) -> None:
        row = self._row(event_id)
        if row is not None and self._open(row):
            row.update(attempts=attempts, next_attempt_at=at, last_error=error[:2000])

    def failed(self, event_id: str, attempts: int, now: int, error: str) -> None:
        row = self._row(event_id)
        if row is not None and self._open(row):
            row.update(attempts=attempts, failed_at=now, last_error=error[:2000])

    def get(self, event_id: str) -> WebhookEvent | None:
        row = self._row(event_id)
        return None if row is None else self._view(row)

    def listing(self, failed_only: bool, tenant_id: str | None,
                limit: int) -> list[WebhookEvent]:
        rows = [e for e in self.s.events
                if (e.get("failed_at") is not None if failed_only
                    else e.get("delivered_at") is None)
                and tenant_id in (None, e["tenant_id"])]
        rows.sort(key=lambda e: (e["created_at"], e["tenant_id"], e["device_id"], e["seq"]))
        return [self._view(e) for e in rows[:limit]]

    def counts(self, since: int, tenant_id: str | None) -> QueueCounts:
        rows = [e for e in self.s.events if tenant_id in (None, e["tenant_id"])]
        return QueueCounts(sum(self._open(e) for e in rows),
                           sum(e.get("failed_at") is not None for e in rows),
                           sum((e.get("delivered_at") or -1) >= since for e in rows))

    def requeue(self, event_ids: list[str] | None, tenant_id: str | None, now: int,
                give_up_at: int) -> int:
        done = 0
        for e in self.s.events:
            if (e.get("failed_at") is not None and e.get("delivered_at") is None
                    and (event_ids is None or e["event_id"] in event_ids)
                    and tenant_id in (None, e["tenant_id"])):
                e.update(failed_at=None, next_attempt_at=now, attempts=0, give_up_at=give_up_at)
                done += 1
        return done


class MemorySender:
    """Keeps every (url, body, content type) posted; answers with `errors` in turn
    (None: 2xx), then with `error`."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, str]] = []
        self.errors: list[str | None] = []
        self.error: str | None = None

    def post(self, url: str, body: bytes, content_type: str) -> str | None:
        self.posts.append((url, body.decode("ascii"), content_type))
        return self.errors.pop(0) if self.errors else self.error
