"""Django settings, read from the environment.

Development: ``DEBUG=1`` and nothing else, or the ``.env`` file ``scripts/run`` writes beside
``manage.py`` (read here, so every management command runs without extra environment). Production:
``SECRET_KEY``, ``DATABASE_URL``, ``ALLOWED_HOSTS`` and, for several machines, ``Q_BROKER_URL`` and
``CACHE_URL`` (Redis); HTTPS settings from ``SECURE_SSL_REDIRECT`` and ``SECURE_HSTS_SECONDS``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def load_env_file(path: Path) -> None:
    """Read ``NAME=value`` lines into the environment; variables already set win over the file."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        os.environ.setdefault(name.strip(), value.strip().strip("'\""))


# ENV_FILE names another file, or none with an empty value (the test suite).
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_env_file(Path(_env_file))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "commerce.admin_apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "commerce",
    "commerce.webhooks",
    "fulfillment",
    "payments",
    "spending_limits",
    "orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's styles) straight from STATIC_ROOT under gunicorn, with DEBUG off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "commerce.middleware.RefuseNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a login that was locked out.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out user or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "commerce.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "commerce.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare repeated statements (not behind a transaction-pooling proxy).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env_bool("DB_SERVER_SIDE_BINDING")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write the same file. WAL lets readers go on beside the one writer;
    # IMMEDIATE takes the write lock when a transaction begins, so a transaction never has to upgrade a
    # read lock (which fails at once with "database is locked"); the timeout (seconds) waits for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": int(os.environ.get("SQLITE_TIMEOUT", "30")),
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# E-mail: the console in development; SMTP and friends through EMAIL_BACKEND and EMAIL_* variables.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))  # the file backend's folder
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orders@demo-store.example")
MERCHANT_EMAILS = env_list("MERCHANT_EMAILS", "merchant@demo-store.example")

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS: off unless the environment turns it on (behind a TLS proxy: SECURE_SSL_REDIRECT=1 and
# SECURE_HSTS_SECONDS=31536000 once every host of the domain answers HTTPS).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")

# The staff login: django-axes locks out a user name or an address after AXES_FAILURE_LIMIT failures
# in a row, for AXES_COOLOFF_MINUTES. Its counts live in the shared cache when there is one (CACHE_URL at
# Redis, production), else in the database, which every process also shares. The lockout page says how
# long is left (commerce.lockout).
AXES_HANDLER = os.environ.get(
    "AXES_HANDLER",
    "axes.handlers.cache.AxesCacheHandler"
    if os.environ.get("CACHE_URL")
    else "axes.handlers.database.AxesDatabaseHandler",
)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "commerce.lockout.lockout_response"
AXES_VERBOSE = False
# Attempts are no daily work: the admin leaves them out (AXES_HANDLER's records stay in place).
AXES_ENABLE_ADMIN = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "commerce.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Request bodies are JSON only (the admin has its own forms).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "commerce.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "commerce.api.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("LOGIN_THROTTLE_RATE", "10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Order management API",
    "DESCRIPTION": "Storefront and back-office API of the order-management back office.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "InventoryStatusEnum": "orders.models.InventoryStatus",
        "ReturnStatusEnum": "orders.returns.models.ReturnStatus",
        "ReturnItemStatusEnum": "orders.returns.models.ReturnItemStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "commerce.api.schema.error_codes_hook",
    ],
    # Swagger UI and ReDoc from the project's static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
    }
    if os.environ.get("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# django-q2: the ORM broker by default (one database, nothing else to run); Redis when
# Q_BROKER_URL is set, for several worker machines.
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "commerce"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": int(os.environ.get("Q_TIMEOUT", "600")),
    "retry": int(os.environ.get("Q_RETRY", "900")),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "orm": "default",
    "poll": 1,
    "sync": env_bool("Q_SYNC"),
}
if os.environ.get("Q_BROKER_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["Q_BROKER_URL"]

# The order flow. Per-store values live on the Store model; these are the product's settings.
PAYMENT_METHODS = {
    "card": "payments.methods.CardMethod",
    "cod": "payments.methods.CashOnDeliveryMethod",
    "bill_me": "payments.methods.BillMeMethod",
    "purchase_order": "payments.methods.PurchaseOrderMethod",
}
PAYMENT_GATEWAYS = {
    "simulated": "payments.gateways.simulated.SimulatedGateway",
}
PAYMENT_DEFAULT_GATEWAY = os.environ.get("PAYMENT_DEFAULT_GATEWAY", "simulated")
PAYMENT_EXTERNAL_ACCOUNT_HOOK = os.environ.get(
    "PAYMENT_EXTERNAL_ACCOUNT_HOOK", "payments.credit_line.credit_line_check"
)
# The payment methods the external-account hook checks (DESIGN section 16).
PAYMENT_EXTERNAL_ACCOUNT_METHODS = ["bill_me", "purchase_order"]
# Captures of balance_payment's set-based step sent to the gateway at once (threads; 1: one after another).
# SQLite takes one writer at a time, and the simulated gateway writes: one after another there.
_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
PAYMENT_CAPTURE_CONCURRENCY = int(os.environ.get("PAYMENT_CAPTURE_CONCURRENCY", "1" if _SQLITE else "4"))

# Flow variants (DESIGN section 18): a store's inventory_system and payment_system name one of these
# strategy classes. A new kind is one class and one entry here (docs/flow-variants.md).
INVENTORY_SYSTEMS = {
    "atp": "fulfillment.inventory_systems.AtpInventory",
    "non_atp": "fulfillment.inventory_systems.NonAtpInventory",
    "none": "fulfillment.inventory_systems.NoInventory",
}
PAYMENT_SYSTEMS = {
    "commerce_payments": "payments.payment_systems.CommercePayments",
    "payment_rules": "payments.payment_systems.PaymentRules",
}
TAX_CALCULATOR = os.environ.get("TAX_CALCULATOR", "orders.totals.StoreTaxCalculator")
SHIPPING_CALCULATOR = os.environ.get("SHIPPING_CALCULATOR", "orders.totals.StoreShippingCalculator")
# Fulfillment reports a confirmed package here; the order app records items, events and the R → S move.
FULFILLMENT_SHIPMENT_HOOK = "orders.services.shipment.order_record_shipment"

# Background rendering: batches with more releases than this render in a django-q2 task.
PICK_BATCH_SYNC_RENDER_LIMIT = int(os.environ.get("PICK_BATCH_SYNC_RENDER_LIMIT", "50"))

# Job schedules, overridable per deployment with a JSON object in JOB_SCHEDULES.
JOB_SCHEDULE_DEFAULTS = {
    "release_expired_allocations": timedelta(hours=1),
    "sync_pending_payments": timedelta(minutes=10),
    "process_backorders": timedelta(hours=12),
    "release_to_fulfillment": timedelta(minutes=10),
    "reauthorize_payments": timedelta(hours=1),
    "balance_payment": timedelta(days=1),
    "payment_cleanup": timedelta(days=1),
    "return_credit_and_close": timedelta(hours=1),
    "order_payment_synchronize": timedelta(minutes=10),
    "process_depositable_amount": timedelta(hours=1),
    "order_close": timedelta(hours=1),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
