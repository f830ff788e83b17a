"""Settings, read from the environment.

Local use needs no variables at all (SQLite, DEBUG on, console e-mail). Production sets
``DJANGO_ENV=production`` (or ``DEBUG=0``) plus ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
``DATABASE_URL``, and then passes ``manage.py check --deploy``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", os.environ.get("DJANGO_ENV", "").lower() != "production")
# DEBUG off is production, however it was asked for: real key, real hosts, secure cookies, SMTP.
PRODUCTION = not DEBUG

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # The local key is published in this file: only a DEBUG (local) run may use it.
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when DJANGO_ENV=production or DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "backoffice.apps.BackofficeConfig",
    "core",
    "orders",
    "policies",
    "cases",
    "portal",
    "mail",
    "reports",
    "shop",
]

MIDDLEWARE = [
    # Outermost, so that every response has it, static files and error pages included.
    "backoffice.middleware.PermissionsPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The portal speaks the customer's language where a catalogue exists (after sessions, before common).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session has given a second factor (docs/two-factor.md).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Serves collected static files; runserver serves them itself while DEBUG is on.
    after_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
    MIDDLEWARE.insert(after_security, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "backoffice.urls"

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

WSGI_APPLICATION = "backoffice.wsgi.application"

# Each worker process keeps its connection between requests (docs/decisions/0037): opening one costs
# PostgreSQL more CPU than a portal request's own queries. The check before reuse replaces a
# connection the server dropped instead of failing the request. runserver starts a thread per
# request, so a local run keeps closing them (0).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE") or ("600" if PRODUCTION else "0")),
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite ignores select_for_update. IMMEDIATE transactions take the write lock up front, so
    # two services (or two sweeps) touching the same case serialize instead of both reading the
    # old state; the timeout makes the second wait rather than fail with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # The queue-order index INCLUDEs the state for PostgreSQL's deep pages; SQLite builds it without.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login brute force: django-axes counts failed logins per (username, address) pair, so an attacker
# cannot guess one account's password, while a colleague behind the same office address still logs
# in. The axes backend comes first: it refuses a locked-out pair before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "backoffice.auth_backend.ModelBackendOneQuery",  # ModelBackend, permissions in one query
    # Sessions remember the backend that logged them in: this keeps those opened before the line
    # above valid. It answers from the permissions the line above has already read, at no query.
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # its start-up banner would print on every manage.py command
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address behind TRUSTED_PROXY_COUNT proxies: the same reading as the portal's limits.
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_address_or_none"

# Second factor for staff (docs/two-factor.md, docs/decisions/0051): an authenticator app (TOTP) with
# backup codes. Whoever holds one of OTP_PRIVILEGED_PERMISSIONS must have one and give a code once per
# session before any admin page opens, when OTP_REQUIRED_FOR_PRIVILEGED is on: by default in
# production, not locally, so `make run`'s demo logins sign in with their password alone. Anyone
# who set one up is asked for it either way.
OTP_REQUIRED_FOR_PRIVILEGED = env_bool("OTP_REQUIRED_FOR_PRIVILEGED", PRODUCTION)
# What moves money or changes what the customers are promised: discretionary and statutory approvals,
# payouts, publishing a policy version. A shop's connection permission belongs here once it exists.
OTP_PRIVILEGED_PERMISSIONS = [
    "cases.approve_exception",
    "cases.pay_refundcase",
    "policies.add_policyversion",
]
# Wrong codes lock like wrong passwords: each one counts in the login lockout for the (username,
# address) pair, and this many in a row on the user's devices lock the second step for the cool-off,
# from any address and across new password logins. django-otp's own back-off (1, 2, 4, ... seconds
# between attempts) applies under it.
OTP_FAILURE_LIMIT = int(os.environ.get("OTP_FAILURE_LIMIT", str(AXES_FAILURE_LIMIT)))
OTP_LOCKOUT_TIME = AXES_COOLOFF_TIME
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Refund back office")

# How many reverse proxies (load balancer, nginx) stand in front of the application and append to
# X-Forwarded-For. 0: the header is never read. Set it to exactly the number of hops: one more lets a
# client choose its own address for the rate limits and the login lockout (docs/portal.md).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Content-Security-Policy on every response. The admin and our templates load scripts and styles
# from our own static files only, so no inline script or style is allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# Dates on staff pages read one way: "7 Dec 2026", "7 Dec 2026, 23:04" (docs/decisions/0043).
FORMAT_MODULE_PATH = ["backoffice.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Evidence uploads: screenshots are small; anything larger is refused with a message.
EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_BYTES", str(10 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The admin's order import (docs/reports.md): a shop's whole order history, 100,000 orders are
# about 60 MB of WooCommerce JSON. Only that view takes files this large.
ORDER_IMPORT_MAX_BYTES = int(os.environ.get("ORDER_IMPORT_MAX_BYTES", str(300 * 1024 * 1024)))
# Evidence pipeline (docs/uploads.md): files past EVIDENCE_MAX_BYTES are cut off while they stream in.
EVIDENCE_MAX_FILES_PER_CASE = int(os.environ.get("EVIDENCE_MAX_FILES_PER_CASE", "20"))
EVIDENCE_MAX_PIXELS = int(os.environ.get("EVIDENCE_MAX_PIXELS", str(24_000_000)))
# Where the evidence packet's font (DejaVuSans.ttf and DejaVuSans-Bold.ttf) is; empty: Debian's
# fonts-dejavu-core and the other usual folders (docs/disputes.md).
EVIDENCE_PACKET_FONT_DIR = os.environ.get("EVIDENCE_PACKET_FONT_DIR", "")
FILE_UPLOAD_HANDLERS = [
    "core.uploads.handler.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds to wait on the mail server. Django waits forever by default: a server that takes the
# connection and then says nothing would hold the outbox row lock and the worker (or, without a
# broker, the request that sent the mail) until someone restarts it.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "refunds@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's default config gives "django" its own console handler while it also propagates to
    # the root: every django.* line would be printed twice. Root alone prints it.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # fpdf2 subsets the evidence packet's font through fontTools, which tells each glyph at INFO.
        "fontTools": {"level": "WARNING"},
        # A line per call to a shop at INFO: the call log keeps them, with what became of each.
        "httpx": {"level": "WARNING"},
    },
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Background work (see backoffice/celery.py). No broker: tasks run in-process, at once.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Periodic jobs for `celery -A backoffice beat` (one beat process per installation).
CELERY_BEAT_SCHEDULE: dict = {
    "deliver-due-mail": {"task": "cases.deliver_due_mail", "schedule": 60.0},
    "sweep-deadlines": {"task": "cases.sweep_deadlines", "schedule": 60.0},
    "portal-submissions": {"task": "cases.portal_submissions_left_over", "schedule": 60.0},
    "poll-mailboxes": {"task": "cases.poll_mailboxes", "schedule": float(os.environ.get("INTAKE_POLL_SECONDS", "60"))},
    "sync-shop-orders": {"task": "shop.sync_connected_orders", "schedule": float(os.environ.get("SHOP_SYNC_SECONDS", "900"))},
    "settle-shop-refunds": {"task": "shop.settle_refunds", "schedule": 60.0},
}

# Customer e-mail (see docs/mail.md). SITE_URL makes the links in e-mails absolute.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "10"))
OUTBOX_RETRY_BASE_SECONDS = int(os.environ.get("OUTBOX_RETRY_BASE_SECONDS", "60"))
OUTBOX_RETRY_MAX_SECONDS = int(os.environ.get("OUTBOX_RETRY_MAX_SECONDS", "3600"))

# Intake mailboxes (see docs/mail.md): comma-separated URLs, read by `manage.py ingest_mail` and beat.
INTAKE_MAILBOXES = env_list("INTAKE_MAILBOXES", "")
INTAKE_BATCH = int(os.environ.get("INTAKE_BATCH", "200"))  # messages per mailbox and run
INTAKE_MAX_MESSAGE_BYTES = int(os.environ.get("INTAKE_MAX_MESSAGE_BYTES", str(30 * 1024 * 1024)))
INTAKE_MAX_ATTACHMENTS = int(os.environ.get("INTAKE_MAX_ATTACHMENTS", "10"))
# Host names of our own mail servers: the request time is when one of them received the message.
INTAKE_TRUSTED_RECEIVERS = [host.lower().rstrip(".") for host in env_list("INTAKE_TRUSTED_RECEIVERS", "")]


# --- customer portal (docs/portal.md) --------------------------------------------------------------
# English is shipped; a language is offered once locale/<code>/ has its catalogue.
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]

# Rate limits count in the cache: Redis when CACHE_URL names one (shared by every server), else memory.
# With DEBUG off, memory is refused by a system check (backoffice/checks.py): each worker process would
# count on its own. RATE_LIMITS_SINGLE_PROCESS=1 accepts it for a deploy that runs one process only.
RATE_LIMITS_SINGLE_PROCESS = env_bool("RATE_LIMITS_SINGLE_PROCESS", False)
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL.startswith(("redis://", "rediss://", "unix://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "refund-backoffice"}
}
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", SITE_URL)
PORTAL_LINK_DAYS = int(os.environ.get("PORTAL_LINK_DAYS", "30"))
PORTAL_RATE_LIMITS: dict = {}  # name -> (count, seconds); see portal/limits.py for the defaults


# --- connected shops (docs/shop.md) -------------------------------------------------------------------
# Fernet keys, comma-separated: the first encrypts the connections' secrets, every one decrypts (rotation).
# Required in production (a system check); locally, unset, a key derived from SECRET_KEY is used.
CONNECTION_KEYS = env_list("CONNECTION_KEYS", "")
# Seconds to wait on a shop: to connect, and for its answer.
SHOP_CONNECT_TIMEOUT = float(os.environ.get("SHOP_CONNECT_TIMEOUT", "5"))
SHOP_READ_TIMEOUT = float(os.environ.get("SHOP_READ_TIMEOUT", "30"))
# Seconds after an unanswered refund attempt, beyond both timeouts, before the shop is surely done with
# it: only then, and only if its refunds do not hold it, is the refund sent again (docs/shop.md).
SHOP_REFUND_RESEND_MARGIN = float(os.environ.get("SHOP_REFUND_RESEND_MARGIN", "120"))
