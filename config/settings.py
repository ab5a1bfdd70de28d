"""Django settings for Warren.

Everything comes from the environment (through ``config.env``), with an embedded default
that runs on one machine with nothing else installed: SQLite and Celery's filesystem
transport under ``var/``, an in-memory channel layer and a local-memory cache.
``DATABASE_URL`` switches to PostgreSQL and ``REDIS_URL`` to Redis.
"""

import re
import socket
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from billing.countries import COUNTRIES
from config.env import (
    database_config,
    env_bool,
    env_choice,
    env_export,
    env_int,
    env_list,
    env_path,
    env_str,
    env_url,
    local_secret,
)
from config.proxies import parse_networks
from execution_agent.home_mounts import (
    MountsError,
    parse_fileserver_mounts,
    parse_fileserver_www_mounts,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("WARREN_VAR_DIR", BASE_DIR / "var")

WARREN_ENV = env_choice("WARREN_ENV", "development", ("development", "production", "test"))
PRODUCTION = WARREN_ENV == "production"
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when WARREN_ENV=production")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when WARREN_ENV=production")
    # Development and the embedded default keep a random key in var/, outside the repo.
    SECRET_KEY = local_secret(VAR_DIR / "secrets" / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "servers",
    "files",
    "consoles",
    "webapps",
    "schedules",
    "databases",
    "billing",
    "education",
    "ninja",  # the API's docs page and its Swagger UI files (served from the package)
    "api",
    "forums",
]

MIDDLEWARE = [
    # First: everything after it (allauth's per-IP rate limits included) sees the visitor's
    # address, not the proxy's, and never an X-Forwarded-For it should not believe.
    "config.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "accounts.context_processors.warren",
            ],
        },
    },
]

DATABASES = {"default": database_config("DATABASE_URL", VAR_DIR / "warren.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end packages come from npm (package-lock.json) and are served straight out of
# node_modules under a stable prefix, so nothing third-party is copied into the repo.
STATICFILES_DIRS = [BASE_DIR / "static"] + [
    (prefix, NODE_MODULES / subdir)
    for prefix, subdir in (
        ("vendor/htmx", "htmx.org/dist"),
        ("vendor/pico", "@picocss/pico/css"),
        ("vendor/xterm", "@xterm/xterm/lib"),
        ("vendor/xterm-css", "@xterm/xterm/css"),
        ("vendor/xterm-addon-fit", "@xterm/addon-fit/lib"),
        ("vendor/ace", "ace-builds/src-min-noconflict"),
    )
    if (NODE_MODULES / subdir).is_dir()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production, serve straight from the finders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start otherwise
WHITENOISE_AUTOREFRESH = DEBUG
# Vendored packages reference source maps they do not ship; that must not fail collectstatic.
WHITENOISE_MANIFEST_STRICT = False

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "account_login"

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "SAMEORIGIN"  # /consoles/<id>/frame/ is embedded by Warren's own pages
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)

# Reverse proxies (CIDRs) whose X-Forwarded-For is believed: the deploy's nginx, say
# 127.0.0.1/32. Empty (the default) believes no one, since the dashboard's port is reachable
# from users' sandboxes on the same machine. See config.proxies.
WARREN_TRUSTED_PROXIES = parse_networks(
    "WARREN_TRUSTED_PROXIES", env_list("WARREN_TRUSTED_PROXIES", [])
)

# --- Accounts (django-allauth) -------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# The optional teacher field (education: the seed's "fill in the teacher field").
ACCOUNT_SIGNUP_FORM_CLASS = "education.forms.SignupTeacherForm"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_USERNAME_VALIDATORS = "accounts.validators.username_validators"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# Failed logins are limited per IP and per account (allauth counts them in the cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("WARREN_LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Accept the codes either side of the current one: phones' clocks drift and people type slowly.
# A used code is still refused for the whole window (allauth remembers it).
MFA_TOTP_TOLERANCE = 1
MFA_TOTP_ISSUER = env_str("WARREN_SITE_NAME", "Warren")

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Warren <warren@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    # The embedded default prints mail (confirmation links, password resets) to the log.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Celery ------------------------------------------------------------------------------
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    # Calls to an execution agent on another machine wait for their answer here
    # (servers.agents.RemoteAgent); every other task still ignores its result.
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_RESULT_EXPIRES = 600
else:
    CELERY_QUEUE_DIR = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # One folder in and out: producers and the worker share the queue on this machine.
        "data_folder_in": str(CELERY_QUEUE_DIR),
        "data_folder_out": str(CELERY_QUEUE_DIR),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Defaults to "control" relative to the working directory, which the service user
        # may not be able to write: keep broadcast/control messages under var/ too.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("WARREN_CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# Tasks registered by each app; beat entries are synchronised into django-celery-beat.
CELERY_BEAT_SCHEDULE: dict = {}
# files: every quota again each night, one batch per file server (quota state can be lost).
CELERY_BEAT_SCHEDULE["files-reapply-all-quotas"] = {
    "task": "files.tasks.storage_quotas_reapply",
    "schedule": crontab(hour=3, minute=30),
}
# files: staff get the list of users at or past their soft storage limit each morning.
CELERY_BEAT_SCHEDULE["files-over-quota-report"] = {
    "task": "files.tasks.storage_over_quota_report",
    "schedule": crontab(hour=9, minute=0),
}
# files: homes bound again on an execution server whose agent restarted (several file servers).
CELERY_BEAT_SCHEDULE["files-home-mounts-check"] = {
    "task": "files.tasks.home_mounts_check_all",
    "schedule": 60.0,
}
# servers: CPU-seconds accounting and the tarpit, from every execution server's cgroups.
CELERY_BEAT_SCHEDULE["servers-account-cpu"] = {
    "task": "servers.tasks.account_cpu_all",
    "schedule": 60.0,
}

# billing: the invoices that fall due each morning, and the reminders sent ahead of them.
CELERY_BEAT_SCHEDULE["billing-issue-due-invoices"] = {
    "task": "billing.tasks.issue_due_invoices",
    "schedule": crontab(hour=6, minute=0),
}
CELERY_BEAT_SCHEDULE["billing-send-reminders"] = {
    "task": "billing.tasks.send_reminders",
    "schedule": crontab(hour=7, minute=0),
}
# webapps: renew ACME certificates 30 days before expiry, retry failed ones after their backoff.
CELERY_BEAT_SCHEDULE["webapps-renew-certificates"] = {
    "task": "webapps.tasks.certificates_renew_due",
    "schedule": 3600.0,
}
# billing II: every gateway subscription against the VAT on its next invoice date, nightly.
CELERY_BEAT_SCHEDULE["billing-late-payers"] = {
    "task": "billing.tasks.process_late_payers",
    "schedule": crontab(hour=8, minute=0),
}
CELERY_BEAT_SCHEDULE["billing-reconcile-subscriptions"] = {
    "task": "billing.tasks.reconcile_subscriptions",
    "schedule": crontab(hour=2, minute=15),
}

# --- Warren ------------------------------------------------------------------------------
WARREN_SITE_NAME = env_str("WARREN_SITE_NAME", "Warren")
# Users' Unix identities: uid = gid = base + user.pk, far above ordinary and system users.
WARREN_UID_BASE = env_int("WARREN_UID_BASE", 1_000_000, minimum=65536)
WARREN_HOMES_ROOT = env_path("WARREN_HOMES_ROOT", Path("/home"))
WARREN_WWW_ROOT = env_path("WARREN_WWW_ROOT", Path("/var/www-warren"))
WARREN_RUN_DIR = env_path("WARREN_RUN_DIR", Path("/run/warren") if PRODUCTION else VAR_DIR / "run")
WARREN_EXEC_AGENT_SOCKET = env_path(
    "WARREN_EXEC_AGENT_SOCKET", WARREN_RUN_DIR / "execution-agent.sock"
)
WARREN_FILESERVER_URL = env_url("WARREN_FILESERVER_URL", ("http", "https")) or (
    "http://127.0.0.1:8701"
)
# Where each file server's homes are mounted on execution servers ("fs-1=/srv/homes/fs-1,..."):
# each home is then a bind of its server's mount, switched when the user moves (files/mounts.py).
# Unset: one file server, mounted at WARREN_HOMES_ROOT itself.
# And where their web directories are ("fs-1=/srv/www/fs-1,..."; the same file servers): each
# WARREN_WWW_ROOT/<username> is then switched with the home. Unset: web directories are not.
try:
    WARREN_FILESERVER_MOUNTS = parse_fileserver_mounts(env_str("WARREN_FILESERVER_MOUNTS"))
    WARREN_FILESERVER_WWW_MOUNTS = parse_fileserver_www_mounts(
        env_str("WARREN_FILESERVER_WWW_MOUNTS"), WARREN_FILESERVER_MOUNTS
    )
except MountsError as error:
    raise ImproperlyConfigured(str(error)) from None
WARREN_AGENT_SECRETS = env_list("WARREN_AGENT_SECRETS", [])
if not WARREN_AGENT_SECRETS:
    if PRODUCTION:
        raise ImproperlyConfigured("WARREN_AGENT_SECRETS must be set when WARREN_ENV=production")
    WARREN_AGENT_SECRETS = [local_secret(VAR_DIR / "secrets" / "agent_secret")]
# Users' sites are <username>.<WARREN_WEBAPPS_DOMAIN>. In production it must be a registrable
# domain of its own: not the dashboard's domain, not a parent of it, not under it, and not a
# sibling sharing a parent (or SESSION_COOKIE_DOMAIN) with it, or users' sites could set cookies
# the dashboard reads. The system check webapps.W001 warns otherwise.
WARREN_WEBAPPS_DOMAIN = env_str("WARREN_WEBAPPS_DOMAIN", "localhost")
# DNS servers (host or host:port) asked for custom domains' TXT records; empty: /etc/resolv.conf.
WARREN_DNS_SERVERS = env_list("WARREN_DNS_SERVERS", [])
WARREN_DNS_TIMEOUT_SECONDS = env_int("WARREN_DNS_TIMEOUT_SECONDS", 5, minimum=1)
WARREN_WEBAPPS_PORT = env_int("WARREN_WEBAPPS_PORT", 8080, minimum=1)
# HTTPS for users' sites (webapps/https.py): the web servers' HTTPS port (their agents read the
# same variable), and ACME for custom domains' certificates: the directory (Let's Encrypt), the
# installation's one account key (a private file, made on first use), a contact address, the
# CA bundle that verifies the ACME server's own HTTPS (empty: the system's), renewal margin.
WARREN_WEBAPPS_HTTPS_PORT = env_int("WARREN_WEBAPPS_HTTPS_PORT", 8443, minimum=1)
WARREN_ACME_DIRECTORY_URL = env_url("WARREN_ACME_DIRECTORY_URL", ("https", "http")) or (
    "https://acme-v02.api.letsencrypt.org/directory"
)
WARREN_ACME_ACCOUNT_KEY = env_path(
    "WARREN_ACME_ACCOUNT_KEY", VAR_DIR / "secrets" / "acme_account_key.pem"
)
WARREN_ACME_EMAIL = env_str("WARREN_ACME_EMAIL", "")
WARREN_ACME_CA_BUNDLE = env_str("WARREN_ACME_CA_BUNDLE", "")
WARREN_ACME_RENEW_DAYS = env_int("WARREN_ACME_RENEW_DAYS", 30, minimum=1)
WARREN_UPLOAD_MAX_BYTES = env_int("WARREN_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, minimum=1)
# Whole request bodies, checked on the headers before a byte is read (config.bodyguard): a
# logged-in user's (one upload of WARREN_UPLOAD_MAX_BYTES plus the multipart framing) and an
# anonymous visitor's (login, sign-up and reset forms are a few hundred bytes).
WARREN_REQUEST_MAX_BYTES = env_int(
    "WARREN_REQUEST_MAX_BYTES", WARREN_UPLOAD_MAX_BYTES + 1024 * 1024, minimum=1024
)
WARREN_ANONYMOUS_REQUEST_MAX_BYTES = env_int(
    "WARREN_ANONYMOUS_REQUEST_MAX_BYTES", 64 * 1024, minimum=1024
)
# Files tab: the largest file the editor opens and saves (bigger ones are download-only).
WARREN_EDITOR_MAX_BYTES = env_int("WARREN_EDITOR_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
# Fileserver tasks retry with exponential backoff from BASE up to MAX seconds between tries,
# so a plan change reaches a file server within MAX seconds of it coming back.
WARREN_FILESERVER_RETRY_BASE_SECONDS = env_int("WARREN_FILESERVER_RETRY_BASE_SECONDS", 2, minimum=1)
WARREN_FILESERVER_RETRY_MAX_SECONDS = env_int("WARREN_FILESERVER_RETRY_MAX_SECONDS", 60, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Panels on the Dashboard tab, in order: functions (request) -> accounts.dashboard.Card | None.
WARREN_DASHBOARD_CARDS = [
    "servers.dashboard.notices_card",
    "servers.dashboard.cpu_card",
    "accounts.dashboard.plan_card",
    "files.dashboard.storage_card",
    "consoles.dashboard.consoles_card",
    "webapps.dashboard.webapps_card",
]
# billing II: the late payer's banner, first of all cards.
WARREN_DASHBOARD_CARDS.insert(0, "billing.dashboard.delinquent_card")
# Quotas: the near/over-quota banner, right after it.
WARREN_DASHBOARD_CARDS.insert(1, "files.dashboard.storage_banner_card")
# Extra panels on the Account tab, after plan, security, email and identity.
WARREN_ACCOUNT_CARDS: list[str] = [
    "consoles.dashboard.python_preference_card",
    "billing.dashboard.billing_card",
    "education.dashboard.teacher_card",
    "api.dashboard.tokens_card",
]

# --- API ------------------------------------------------------------------------------------
# Requests per token per minute (429 with Retry-After beyond), and the largest request body
# the API takes (a file written through it: the editor's limit, plus room).
WARREN_API_RATE_LIMIT_PER_MINUTE = env_int("WARREN_API_RATE_LIMIT_PER_MINUTE", 120, minimum=1)
WARREN_API_MAX_BODY_BYTES = env_int(
    "WARREN_API_MAX_BODY_BYTES", WARREN_EDITOR_MAX_BYTES + 64 * 1024, minimum=1024
)

# --- Education ------------------------------------------------------------------------------
# Whether students may only name teachers staff have approved (the admin's Teachers list). Off,
# as in the seed: anyone may be named, so an ad-hoc workshop needs no staff step.
WARREN_EDUCATION_TEACHERS_APPROVED = env_bool("WARREN_EDUCATION_TEACHERS_APPROVED", False)
# The classroom view's grid shows at most this many students' consoles (one websocket each).
WARREN_EDUCATION_CLASSROOM_MAX = env_int("WARREN_EDUCATION_CLASSROOM_MAX", 36, minimum=1)

# --- Billing ------------------------------------------------------------------------------
# The seller's country (its customers always pay VAT at its rate) and the one currency prices
# and invoices are in. The seed's seller is in the UK.
WARREN_BILLING_SELLER_COUNTRY = env_choice("WARREN_BILLING_SELLER_COUNTRY", "GB", tuple(COUNTRIES))
WARREN_BILLING_CURRENCY = env_str("WARREN_BILLING_CURRENCY", "EUR")
if not re.fullmatch(r"[A-Z]{3}", WARREN_BILLING_CURRENCY):
    raise ImproperlyConfigured("WARREN_BILLING_CURRENCY must be a currency code such as EUR")
# The seller as printed on invoices (name, address, VAT number), lines separated by "|".
WARREN_BILLING_SELLER = env_str("WARREN_BILLING_SELLER", f"{WARREN_SITE_NAME}").replace("|", "\n")
# A MaxMind-format country database (.mmdb, e.g. GeoLite2-Country) for the IP evidence. None is
# shipped: without one, EU customers cannot subscribe to paid plans (their IP's country is
# unknown, so the two pieces of evidence cannot agree) and the admin's Billing page says so.
WARREN_GEOIP_DATABASE = env_path("WARREN_GEOIP_DATABASE", None)
# The EU's VIES VAT-number service (SOAP), asked to confirm business customers' numbers.
WARREN_VIES_URL = env_url("WARREN_VIES_URL", ("http", "https")) or (
    "https://ec.europa.eu/taxation_customs/vies/services/checkVatService"
)
WARREN_VIES_TIMEOUT_SECONDS = env_int("WARREN_VIES_TIMEOUT_SECONDS", 10, minimum=1)
# With no payment gateway (Billing II), a paid plan is a trial of this many days, then invoiced.
WARREN_BILLING_TRIAL_DAYS = env_int("WARREN_BILLING_TRIAL_DAYS", 14, minimum=0)
# Reminders go out this many days before each invoice date.
WARREN_BILLING_REMINDER_DAYS = env_int("WARREN_BILLING_REMINDER_DAYS", 7, minimum=1)
# Who hears about refused subscriptions (mismatched evidence); empty: every staff user.
WARREN_BILLING_STAFF_EMAILS = env_list("WARREN_BILLING_STAFF_EMAILS", [])
# Billing II: payment gateways. Keys and secrets come from the environment only; a gateway
# without its key is simply not offered. The API bases move only for tests and sandboxes.
WARREN_STRIPE_API_KEY = env_str("WARREN_STRIPE_API_KEY", "")
WARREN_STRIPE_API_BASE = env_url("WARREN_STRIPE_API_BASE", ("http", "https")) or (
    "https://api.stripe.com"
)
WARREN_STRIPE_WEBHOOK_SECRET = env_str("WARREN_STRIPE_WEBHOOK_SECRET", "")
WARREN_PAYPAL_CLIENT_ID = env_str("WARREN_PAYPAL_CLIENT_ID", "")
WARREN_PAYPAL_CLIENT_SECRET = env_str("WARREN_PAYPAL_CLIENT_SECRET", "")
WARREN_PAYPAL_API_BASE = env_url("WARREN_PAYPAL_API_BASE", ("http", "https")) or (
    "https://api-m.paypal.com"
)
WARREN_PAYPAL_WEBHOOK_ID = env_str("WARREN_PAYPAL_WEBHOOK_ID", "")
# The catalog plan new PayPal subscriptions name (each overrides its price and taxes).
WARREN_PAYPAL_PLAN_ID = env_str("WARREN_PAYPAL_PLAN_ID", "")
# PayPal refuses amount changes this close to a payment (the seed's 72 hours): deferred.
WARREN_PAYPAL_CHANGE_WINDOW_HOURS = env_int("WARREN_PAYPAL_CHANGE_WINDOW_HOURS", 72, minimum=0)
WARREN_GATEWAY_TIMEOUT_SECONDS = env_int("WARREN_GATEWAY_TIMEOUT_SECONDS", 20, minimum=1)
# A 429 is retried this many times, waiting its Retry-After (capped at the second setting).
WARREN_GATEWAY_RATE_LIMIT_RETRIES = env_int("WARREN_GATEWAY_RATE_LIMIT_RETRIES", 5, minimum=0)
WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS = env_int(
    "WARREN_GATEWAY_RETRY_AFTER_MAX_SECONDS", 60, minimum=0
)
# The nightly reconciliation: nerfed (dry run) records what it would do and writes nothing
# at the gateways; its lock lapses after this long if a worker is killed mid-run.
WARREN_RECONCILE_NERFED = env_bool("WARREN_RECONCILE_NERFED", False)
WARREN_RECONCILE_LOCK_SECONDS = env_int("WARREN_RECONCILE_LOCK_SECONDS", 6 * 3600, minimum=60)
# Late payers: reminders this many days after a failed payment, and the grace period after
# which the account uses the free plan's limits until it pays.
WARREN_BILLING_DUNNING_DAYS = [
    int(d) for d in env_list("WARREN_BILLING_DUNNING_DAYS", ["1", "3", "7"]) if d.isdigit()
]
WARREN_BILLING_GRACE_DAYS = env_int("WARREN_BILLING_GRACE_DAYS", 14, minimum=0)
# The dashboard's address as users reach it, for links in emails.
WARREN_SITE_URL = env_url("WARREN_SITE_URL", ("http", "https")) or "http://localhost:8000"

# --- Consoles ------------------------------------------------------------------------------
# How often a sharee's open console socket re-checks its share (revocations through another
# process reach it this way even without a shared channel layer).
WARREN_CONSOLE_ACCESS_RECHECK_SECONDS = env_int(
    "WARREN_CONSOLE_ACCESS_RECHECK_SECONDS", 3, minimum=1
)
# Buttons in the file editor's toolbar: template names, each included with `path` (the file's
# absolute in-sandbox path, e.g. /home/alice/app.py), `area` ("home" or "www") and `user`.
WARREN_EDITOR_ACTIONS: list[str] = [
    "consoles/editor/save_and_run.html",
    "webapps/editor_action.html",  # "Reload <domain>" on a web app's WSGI file
]

# Execution servers (Server.hostname) whose agent socket this process can open: the pages that
# ask an agent directly (Processes, the sandbox warning) only ask these. Consoles reach theirs
# because each console server runs this app too; other machines are named, not asked.
WARREN_LOCAL_HOSTNAMES = env_list(
    "WARREN_LOCAL_HOSTNAMES",
    ["127.0.0.1", "localhost", socket.gethostname()],
)

# Limits of each user's sandbox cgroup (memory, processes) and their private /tmp.
WARREN_SANDBOX_MEMORY_BYTES = env_int("WARREN_SANDBOX_MEMORY_BYTES", 3 * 1024**3, minimum=1 << 26)
WARREN_SANDBOX_PIDS_MAX = env_int("WARREN_SANDBOX_PIDS_MAX", 512, minimum=16)
WARREN_SANDBOX_TMP_BYTES = env_int("WARREN_SANDBOX_TMP_BYTES", 1024**3, minimum=1 << 20)

# databases: users' MariaDB and PostgreSQL (DatabaseServer rows name the servers).
# A JSON file {"name": "password"} holding the admin password each DatabaseServer names.
WARREN_DATABASE_ADMINS_FILE = env_path("WARREN_DATABASE_ADMINS_FILE", None)
WARREN_DATABASES_PER_USER = env_int("WARREN_DATABASES_PER_USER", 20, minimum=1)
WARREN_DATABASE_USER_CONNECTIONS = env_int("WARREN_DATABASE_USER_CONNECTIONS", 10, minimum=1)
WARREN_DATABASE_GRACE_DAYS = env_int("WARREN_DATABASE_GRACE_DAYS", 30, minimum=1)
WARREN_DATABASE_CONNECT_TIMEOUT_SECONDS = env_int(
    "WARREN_DATABASE_CONNECT_TIMEOUT_SECONDS", 5, minimum=1
)
WARREN_DATABASE_RETRY_MAX = env_int("WARREN_DATABASE_RETRY_MAX", 5, minimum=0)
CELERY_BEAT_SCHEDULE["databases-expire-suspended"] = {
    "task": "databases.tasks.suspended_accounts_expire",
    "schedule": crontab(hour=4, minute=15),
}

# --- Scheduled tasks (schedules/) --------------------------------------------------------
# A run is killed after this many seconds of wall-clock time (free plans, paid plans).
WARREN_TASK_WALL_SECONDS_FREE = env_int("WARREN_TASK_WALL_SECONDS_FREE", 2 * 3600, minimum=1)
WARREN_TASK_WALL_SECONDS_PAID = env_int("WARREN_TASK_WALL_SECONDS_PAID", 12 * 3600, minimum=1)
# A task's log in the home is renamed to <log>.1 when a run starts with it this big.
WARREN_TASK_LOG_MAX_BYTES = env_int("WARREN_TASK_LOG_MAX_BYTES", 1024 * 1024, minimum=1024)
# Free accounts' tasks stop running this many days after creation or the last Extend; the
# reminder goes out WARREN_TASK_EXPIRY_REMINDER_DAYS before.
WARREN_TASK_EXPIRY_DAYS = env_int("WARREN_TASK_EXPIRY_DAYS", 28, minimum=1)
WARREN_TASK_EXPIRY_REMINDER_DAYS = env_int("WARREN_TASK_EXPIRY_REMINDER_DAYS", 7, minimum=1)
# Always-on tasks: the agent waits 1 s, 2 s, 4 s ... up to the cap before starting one that
# exited again; a run that lasted WARREN_ALWAYS_ON_STABLE_SECONDS resets the wait to 1 s.
WARREN_ALWAYS_ON_BACKOFF_MAX_SECONDS = env_int(
    "WARREN_ALWAYS_ON_BACKOFF_MAX_SECONDS", 300, minimum=1
)
WARREN_ALWAYS_ON_STABLE_SECONDS = env_int("WARREN_ALWAYS_ON_STABLE_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE["schedules-dispatch-due"] = {
    "task": "schedules.tasks.dispatch_due_tasks",
    "schedule": crontab(),  # every minute, on the minute: the slots are minutes
}
CELERY_BEAT_SCHEDULE["schedules-collect-results"] = {
    "task": "schedules.tasks.collect_task_results_all",
    "schedule": 30.0,
}
CELERY_BEAT_SCHEDULE["schedules-expiry-reminders"] = {
    "task": "schedules.tasks.send_expiry_reminders",
    "schedule": crontab(minute=15),
}

# --- SSH access (ssh/, ssh_gateway/) -------------------------------------------------------
INSTALLED_APPS.append("ssh")
WARREN_ACCOUNT_CARDS.append("ssh.dashboard.ssh_keys_card")
# The gateway's key lookups (ssh_gateway/keys.py) are signed with one of these; the gateway
# reads the same secret from WARREN_SSH_SECRET_FILE. Its own secret, not WARREN_AGENT_SECRETS:
# the account running sshd's key command can then ask whose key this is, and nothing more.
WARREN_SSH_SECRETS = env_list("WARREN_SSH_SECRETS", [])
if not WARREN_SSH_SECRETS:
    if WARREN_ENV == "production":
        raise ImproperlyConfigured("WARREN_SSH_SECRETS must be set when WARREN_ENV=production")
    WARREN_SSH_SECRETS = [local_secret(VAR_DIR / "secrets" / "ssh_secret")]
# What the Account tab tells users to type: ssh -p PORT LOGIN@HOST (the gateway's settings).
WARREN_SSH_HOST = env_str("WARREN_SSH_HOST", "localhost")
WARREN_SSH_PORT = env_int("WARREN_SSH_PORT", 2222, minimum=1)
WARREN_SSH_LOGIN = env_str("WARREN_SSH_LOGIN", "warren-ssh")
WARREN_SSH_MAX_KEYS = env_int("WARREN_SSH_MAX_KEYS", 20, minimum=1)

# --- Forums (forums/) ----------------------------------------------------------------------
# Akismet checks every new post and edit (forums/spam.py). No key: posts wait for staff in the
# admin's moderation queue; nothing is ever published unchecked. The site URL is the "blog"
# Akismet's key is registered for (default: WARREN_SITE_URL).
WARREN_AKISMET_API_KEY = env_str("WARREN_AKISMET_API_KEY")
WARREN_AKISMET_SITE_URL = env_url("WARREN_AKISMET_SITE_URL", ("http", "https")) or WARREN_SITE_URL
# The client class (tests swap in the akismet package's offline test clients).
WARREN_AKISMET_CLIENT = "akismet.SyncClient"
# While Akismet is unreachable a check is retried with exponential backoff up to this cap;
# beat re-queues any post still unchecked after WARREN_FORUMS_RECHECK_AFTER_SECONDS.
WARREN_AKISMET_RETRY_MAX_SECONDS = env_int("WARREN_AKISMET_RETRY_MAX_SECONDS", 1800, minimum=1)
WARREN_FORUMS_RECHECK_AFTER_SECONDS = env_int(
    "WARREN_FORUMS_RECHECK_AFTER_SECONDS", 600, minimum=60
)
WARREN_FORUMS_EDIT_WINDOW_MINUTES = env_int("WARREN_FORUMS_EDIT_WINDOW_MINUTES", 30, minimum=0)
WARREN_FORUMS_POST_MAX_CHARS = env_int("WARREN_FORUMS_POST_MAX_CHARS", 20_000, minimum=100)
# Accounts younger than WARREN_FORUMS_NEW_ACCOUNT_DAYS may post this many times an hour.
WARREN_FORUMS_NEW_ACCOUNT_DAYS = env_int("WARREN_FORUMS_NEW_ACCOUNT_DAYS", 7, minimum=0)
WARREN_FORUMS_NEW_ACCOUNT_POSTS_PER_HOUR = env_int(
    "WARREN_FORUMS_NEW_ACCOUNT_POSTS_PER_HOUR", 5, minimum=1
)
WARREN_FORUMS_PAGE_SIZE = env_int("WARREN_FORUMS_PAGE_SIZE", 30, minimum=5)
CELERY_BEAT_SCHEDULE["forums-recheck-unchecked"] = {
    "task": "forums.tasks.posts_recheck_stale",
    "schedule": 300.0,
}
# files: the notice shown while a user's home moves to another file server.
WARREN_DASHBOARD_CARDS.insert(1, "files.dashboard.home_move_card")

# --- Metrics (metrics/) ------------------------------------------------------------------
INSTALLED_APPS += ["metrics"]
# First: it counts what every later middleware answers (login redirects, refusals) too.
MIDDLEWARE.insert(0, "metrics.middleware.RequestMetricsMiddleware")
# GET /metrics/ answers only with "Authorization: Bearer <token>"; without a token it is a 404.
WARREN_METRICS_TOKEN = env_str("WARREN_METRICS_TOKEN", "")
# A directory every Django process of this machine (ASGI server, Celery workers) writes its
# counts to, so /metrics adds them up; wipe it when they all restart. Unset: per process.
WARREN_METRICS_DIR = env_path("WARREN_METRICS_DIR", None)
if WARREN_METRICS_DIR:
    WARREN_METRICS_DIR.mkdir(parents=True, exist_ok=True)
    env_export("PROMETHEUS_MULTIPROC_DIR", str(WARREN_METRICS_DIR))
