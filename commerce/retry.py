"""Transient database conflicts: a unit of work that lost a deadlock or a serialization check runs again.

PostgreSQL breaks a deadlock by failing one of the transactions (SQLSTATE 40P01) and a serializable
transaction that cannot be ordered with the others by failing it (40001); SQLite answers "database is
locked" when its busy timeout runs out. In each case the transaction rolled back whole, so running the
unit again from its start is safe: it reads everything afresh, and the idempotency keys of the gateway
calls and of placements make a repeated request a replay. ``atomic_with_retry`` runs a function in its
own transaction and reruns it a few times, with a growing, jittered pause; when the attempts run out it
raises ``TemporarilyUnavailable``, which the API answers with 503 and ``Retry-After``.

The lock order that keeps deadlocks rare in the first place is in docs/locking.md.
"""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, connection, transaction

from commerce.errors import ApplicationError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 5
BASE_DELAY = 0.02  # seconds before the second attempt; doubled for each further one, with jitter
RETRY_AFTER_SECONDS = 1


class TemporarilyUnavailable(ApplicationError):
    """The database kept refusing the unit of work for a transient reason; the client should try again."""

    code = "temporarily_unavailable"
    status_code = 503
    retry_after = RETRY_AFTER_SECONDS


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is a conflict that running the transaction again may avoid."""
    seen = exc
    while seen is not None:
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if code in TRANSIENT_SQLSTATES:
            return True
        if "database is locked" in str(seen) or "database table is locked" in str(seen):
            return True
        seen = seen.__cause__
    return False


def _pause(attempt: int) -> float:
    """The pause after failed attempt ``attempt``: exponential, jittered so the losers do not collide again."""
    return BASE_DELAY * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


def atomic_with_retry(func: Callable[P, R] | None = None, *, attempts: int = ATTEMPTS):
    """Run ``func`` in a transaction of its own; rerun it on a transient conflict, at most ``attempts`` times.

    Called inside a transaction already (a caller's unit of work, or a test's), it runs in a savepoint
    without retrying: only the outermost unit can start again, and a conflict goes up to it.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if connection.in_atomic_block:
                with transaction.atomic():
                    return function(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic():
                        return function(*args, **kwargs)
                except DatabaseError as exc:
                    if not is_transient(exc):
                        raise
                    if attempt == attempts:
                        logger.warning("%s: gave up after %d attempts: %s", function.__qualname__, attempts, exc)
                        raise TemporarilyUnavailable(
                            "The service is busy; please try again in a moment.",
                            details={"retry_after_seconds": RETRY_AFTER_SECONDS},
                        ) from exc
                    logger.info(
                        "%s: transient conflict on attempt %d, retrying: %s",
                        function.__qualname__,
                        attempt,
                        str(exc).splitlines()[0],
                    )
                    time.sleep(_pause(attempt))
            raise AssertionError("unreachable")  # pragma: no cover

        return run

    return decorate(func) if func is not None else decorate
