"""How long a session lasts, and the sign-in throttle: after the second failure in a row a
wait that doubles with each further failure, and after ``lockout_after`` failures a temporary
lock. Kept per email address whether or not an account has it, so the answers never tell
which addresses exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Lifetimes:
    """A session ends after ``idle`` unused, or ``absolute`` after sign-in."""

    idle: timedelta
    absolute: timedelta

    def ended(self, created: datetime, last_seen: datetime, now: datetime) -> bool:
        return now - last_seen > self.idle or now - created > self.absolute


@dataclass(frozen=True)
class Throttle:
    lockout_after: int
    lockout: timedelta
    backoff_base_s: float


@dataclass(frozen=True)
class Attempts:
    failures: int = 0
    next_attempt_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    locked_until: datetime | None = None
    wait_s: float = 0.0


def may_try(attempts: Attempts, now: datetime) -> Verdict:
    if attempts.locked_until is not None and now < attempts.locked_until:
        return Verdict(False, locked_until=attempts.locked_until)
    if attempts.next_attempt_at is not None and now < attempts.next_attempt_at:
        return Verdict(False, wait_s=(attempts.next_attempt_at - now).total_seconds())
    return Verdict(True)


def after_failure(attempts: Attempts, now: datetime, rules: Throttle) -> Attempts:
    # A lock that has run out starts the count afresh.
    failures = attempts.failures
    if attempts.locked_until is not None and now >= attempts.locked_until:
        failures = 0
    failures += 1
    if failures >= rules.lockout_after:
        return Attempts(failures, None, now + rules.lockout)
    wait = rules.backoff_base_s * 2 ** (failures - 2) if failures >= 2 else 0.0
    return Attempts(failures, now + timedelta(seconds=wait) if wait else None, None)
