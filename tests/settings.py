"""Settings for the test suite: the product's settings with test-only conveniences."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# A developer's .env (written by scripts/run) must not reach the tests or the processes they start.
os.environ.setdefault("ENV_FILE", "")

from commerce.settings import *  # noqa: F403
from commerce.settings import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver", "[::1]"]
# Tasks run inline unless a test starts a real cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT", str(BASE_DIR / "var" / "test-media"))  # noqa: F405
# Threads see only committed rows, and most tests run inside a transaction: captures one after another
# (tests/orders/test_deposit_batch.py sends them at once on PostgreSQL, with committed rows).
PAYMENT_CAPTURE_CONCURRENCY = 1
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
