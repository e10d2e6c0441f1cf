"""In-memory counters, queues and reservations for the service-level unit tests: the
sign-in throttle, rate-limit windows, queued password resets and Idempotency-Key rows
(each the port of the same name in tenure.services.ports, over the shared `State`)."""

from __future__ import annotations

import secrets
from dataclasses import replace

from tenure.services.ports import PENDING, StoredResponse, ThrottleRow

from .fake_repositories import State, _Repo

__all__ = ["FakeIdempotency", "FakeRateLimits", "FakeResetRequests", "FakeThrottle", "State"]


class FakeThrottle(_Repo):
    def admit(self, key: str, now: int, forget_before: int) -> int | None:
        row = self.s.throttle.get(key)
        if row is not None and row.blocked_until > now:
            return None  # paused: nothing counted
        failures = 1 if row is None or row.last_failure_at < forget_before else row.failures + 1
        self.s.throttle[key] = ThrottleRow(failures, row.blocked_until if row else 0, now)
        return failures

    def blocked_until(self, key: str) -> int:
        row = self.s.throttle.get(key)
        return row.blocked_until if row else 0

    def failures(self, key: str) -> int:
        row = self.s.throttle.get(key)
        return row.failures if row else 0

    def block(self, key: str, until: int) -> None:
        self.s.throttle[key] = replace(self.s.throttle[key], blocked_until=until)

    def forgive(self, key: str, blocked_until: int | None) -> None:
        row = self.s.throttle.get(key)
        if row is None or row.failures <= 0:
            return
        lifted = blocked_until is not None and row.blocked_until == blocked_until
        self.s.throttle[key] = replace(row, failures=row.failures - 1,
                                       blocked_until=0 if lifted else row.blocked_until)

    def clear(self, key: str) -> None:
        self.s.throttle.pop(key, None)



class FakeRateLimits(_Repo):
    def hit(self, key: str, window_start: int) -> int:
        start, hits = self.s.rate_limits.get(key, (window_start, 0))
        hits = hits + 1 if start == window_start else 1
        self.s.rate_limits[key] = (window_start, hits)
        return hits

    def purge(self, before: int) -> None:
        for key in [k for k, (start, _) in self.s.rate_limits.items() if start < before]:
            del self.s.rate_limits[key]



class FakeResetRequests(_Repo):
    def add(self, email: str, now: int) -> None:
        self.s.reset_requests[secrets.token_hex(16)] = (email, now)

    def due(self, limit: int) -> list[tuple[str, str]]:
        ordered = sorted(self.s.reset_requests.items(), key=lambda item: item[1][1])
        return [(request_id, email) for request_id, (email, _) in ordered[:limit]]

    def take(self, request_id: str) -> bool:
        return self.s.reset_requests.pop(request_id, None) is not None



class FakeIdempotency(_Repo):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        return self.s.idempotency.get((scope, key))

    def reserve(self, scope: str, key: str, request_hash: str, now: int) -> bool:
        if (scope, key) in self.s.idempotency:
            return False
        self.s.idempotency[(scope, key)] = StoredResponse(request_hash, PENDING, b"", "", now)
        return True

    def take_over(self, scope: str, key: str, stale_before: int, request_hash: str,
                  now: int) -> bool:
        row = self.s.idempotency.get((scope, key))
        if row is None or not row.pending or row.created_at >= stale_before:
            return False
        self.s.idempotency[(scope, key)] = replace(row, request_hash=request_hash,
                                                   created_at=now)
        return True

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        row = self.s.idempotency.get((scope, key))
        if row is not None and row.pending:
            self.s.idempotency[(scope, key)] = replace(
                row, status=response.status, body=response.body,
                content_type=response.content_type)

    def release(self, scope: str, key: str) -> None:
        row = self.s.idempotency.get((scope, key))
        if row is not None and row.pending:
            del self.s.idempotency[(scope, key)]

    def purge(self, before: int) -> None:
        for k in [k for k, row in self.s.idempotency.items() if row.created_at < before]:
            del self.s.idempotency[k]
