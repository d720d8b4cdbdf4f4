"""The staff login's lockout (django-axes): when it ends, the page that says so, and the log line.

django-axes counts failed logins per user name and per address in the cache and refuses a login once
either reaches ``AXES_FAILURE_LIMIT``. When a lockout starts, its end is kept in the same cache under
each locked key, so the page shown on every refused attempt can say how long is left.
"""

import logging
import math
from datetime import datetime, timedelta

from axes.signals import user_locked_out
from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

logger = logging.getLogger("commerce.security")

LOCKED_UNTIL_KEY = "login-locked-until:{kind}:{value}"
LOCKOUT_STATUS = 429


def _keys(*, username: str | None, ip_address: str | None) -> list[str]:
    keys = []
    if username:
        keys.append(LOCKED_UNTIL_KEY.format(kind="user", value=username.lower()))
    if ip_address:
        keys.append(LOCKED_UNTIL_KEY.format(kind="ip", value=ip_address))
    return keys


def _cooloff() -> timedelta:
    return settings.AXES_COOLOFF_TIME


@receiver(user_locked_out, dispatch_uid="commerce.lockout.record_lockout")
def record_lockout(sender, request, username: str | None = None, ip_address: str | None = None, **kwargs) -> None:
    """Keep when the lockout ends and log it; a refused attempt during the lockout does not extend it."""
    until = timezone.now() + _cooloff()
    timeout = math.ceil(_cooloff().total_seconds())
    keys = _keys(username=username, ip_address=ip_address)
    # django-axes counts a failure (and sets this) only when the lockout starts, not while it lasts.
    started = getattr(request, "axes_failures_since_start", None) is not None
    if started:
        cache.set_many(dict.fromkeys(keys, until.isoformat()), timeout=timeout)
    else:
        for key in keys:
            cache.add(key, until.isoformat(), timeout=timeout)
    if started:
        logger.warning(
            "Staff login locked out until %s after %s failed attempts: user %r from %s",
            until.isoformat(timespec="seconds"),
            settings.AXES_FAILURE_LIMIT,
            username or "",
            ip_address or "?",
        )
    else:
        logger.info("Refused a login during its lockout: user %r from %s", username or "", ip_address or "?")


def locked_until(*, username: str | None, ip_address: str | None) -> datetime:
    """The latest end of the lockouts on this user name or address (a full cool-off when none is kept)."""
    ends = [
        datetime.fromisoformat(value)
        for value in cache.get_many(_keys(username=username, ip_address=ip_address)).values()
    ]
    return max(ends, default=timezone.now() + _cooloff())


def describe_wait(seconds: float) -> str:
    """``14 minutes``, ``1 minute``, ``40 seconds``: the wait rounded up, in words."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """What a locked-out staff login gets: a page saying how long is left.

    (The API's token login answers a locked-out user as it answers a wrong password: 400, no token.)
    """
    username = (credentials or {}).get("username") or request.POST.get("username")
    ip_address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    until = locked_until(username=username, ip_address=ip_address)
    wait = describe_wait((until - timezone.now()).total_seconds())
    message = f"Too many failed logins: this account or address is locked out. Try again in {wait}."
    context = {"title": "Locked out", "message": message, "wait": wait, "locked_until": until}
    response = TemplateResponse(request, "admin/lockout.html", context, status=LOCKOUT_STATUS)
    response.render()
    response["Retry-After"] = str(max(1, math.ceil((until - timezone.now()).total_seconds())))
    return response
