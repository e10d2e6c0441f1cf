"""Used replay nonces in Redis (TENURE_REDIS_URL): a check-in then writes nothing to the
database at all."""

from __future__ import annotations

from tenure.domain.errors import Unavailable
from tenure.services.ports import Tx


class RedisUsedNonces:
    """SET key NX EX: atomic on the Redis server, shared by every replica using it. The
    lifetime is relative (EX, from our clock), not absolute (EXAT would be read by the
    Redis server's clock, and a skewed one would forget nonces early)."""

    transactional = False
    PREFIX = "tenure:nonce:"

    def __init__(self, url: str) -> None:
        import redis  # the `redis` extra; only needed when TENURE_REDIS_URL is set

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def use(self, tx: Tx, nonce: str, expires_at: int, remaining: int) -> bool:
        """Redis is on every device request's path: when it does not answer, the request
        is refused as 503 with Retry-After (nothing ran), not as a 500."""
        import redis

        try:
            return bool(self.client.set(self.PREFIX + nonce, b"1", nx=True,
                                        ex=max(1, remaining)))
        except redis.RedisError as exc:
            raise Unavailable("The nonce store is not answering; retry shortly.",
                              retry_after=1) from exc
