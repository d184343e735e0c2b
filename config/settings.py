"""Settings, read from the environment.

Two profiles, chosen by ``APP_PROFILE``:
- ``development`` (default): DEBUG on, a random secret made once in ``var/secret_key``, the
  embedded PostgreSQL when ``DATABASE_URL`` is unset, tasks in-process when
  ``CELERY_BROKER_URL`` is unset.
- ``production``: DEBUG off, ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL`` required,
  HTTPS-only cookies and HSTS; passes ``manage.py check --deploy --fail-level WARNING``.

Every variable is read through ``config.env`` so a bad value stops start-up with an
``ImproperlyConfigured`` that names the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import pghistory

from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_json,
    env_list,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

PROFILE = env_choice("APP_PROFILE", ("development", "production"), "development")
PRODUCTION = PROFILE == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("ALLOWED_HOSTS is required in the production profile")
else:
    from config.secret_key import development_secret_key

    # Random per checkout, never a key from the source (config.secret_key).
    SECRET_KEY = env_str("SECRET_KEY", "") or development_secret_key(VAR_DIR / "secret_key")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "pgtrigger",
    "pghistory",
    "axes",
    "common",
    "org",
    "villages",
    "products",
    "risk",
    "lending",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # The API answers in Chinese whatever Accept-Language a tablet sends.
    "common.api.errors.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    # NUL, lone surrogates and control characters refused in query strings and forms (400).
    "common.input_filter.BadTextMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # An account whose password an administrator set must change it before anything else.
    "org.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After authentication so the acting user is known; DRF token users are picked up when the
    # view sets request.user (see pghistory.middleware.DjangoRequest).
    "pghistory.middleware.HistoryMiddleware",
    # Last, as django-axes asks: turns a refused admin login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # Static files straight from the app server, compressed and cache-busted; in development
    # runserver serves them.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

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
            ],
        },
    },
]

# --- Database: PostgreSQL only --------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "pgsql"))
EMBEDDED_POSTGRES_DIR = VAR_DIR / "postgres"
EMBEDDED_DATABASE_NAME = "village_credit"
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
elif PRODUCTION:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DATABASE_URL is required in the production profile")
else:
    from config.embedded_db import ensure_server

    _embedded = ensure_server(EMBEDDED_POSTGRES_DIR, EMBEDDED_DATABASE_NAME)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **_embedded.connection_settings(EMBEDDED_DATABASE_NAME),
        }
    }
DATABASES["default"].setdefault("TEST", {})
# pgtrigger's per-row check reads this setting and, when it was never set, raises and catches an
# error on every row — a subtransaction per row that makes bulk writes on audited tables
# quadratically slow. Defining it (as "ignore nothing") on every connection avoids that.
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["options"] = (
    DATABASES["default"]["OPTIONS"].get("options", "") + " -c pgtrigger.ignore={}"
).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The one-household feature query is prepared on the server once per connection
# (risk.features). Turn off behind a pooler that resets sessions between transactions.
RISK_PREPARED_FEATURE_QUERY = env_bool("RISK_PREPARED_FEATURE_QUERY", default=True)
# A scorecard trained on synthetic data may be a champion (and score real households) only where
# this is on: development's demo champions are synthetic; production keeps them in draft/sandbox.
RISK_ALLOW_SYNTHETIC_CHAMPION = env_bool("RISK_ALLOW_SYNTHETIC_CHAMPION", default=not PRODUCTION)
# External data providers (risk.providers.registry), JSON: {source: {"class": dotted path,
# "timeout_seconds": s, "ttl_seconds": s, "options": {...}}}; sources not named use the sandbox.
RISK_EXTERNAL_PROVIDERS = env_json("RISK_EXTERNAL_PROVIDERS", default={})
# The production profile warns (risk.W101) while a source still answers from the sandbox, unless
# this says so on purpose (a pilot or training environment on production settings).
RISK_SANDBOX_PROVIDERS_ACCEPTED = env_bool("RISK_SANDBOX_PROVIDERS_ACCEPTED", default=False)

# --- Personal data at rest (common.pii) ------------------------------------------------------
# ID numbers and phones are stored encrypted (AES-SIV) and found through a keyed hash. Production
# must supply both keys; a development checkout makes its own once, under var/.
if PRODUCTION:
    PII_ENCRYPTION_KEYS = env_str("PII_ENCRYPTION_KEYS")
    PII_HASH_KEY = env_str("PII_HASH_KEY")
else:
    from common.pii import development_keys

    _pii_keys = development_keys(VAR_DIR / "pii_keys.json")
    PII_ENCRYPTION_KEYS = env_str("PII_ENCRYPTION_KEYS", _pii_keys["PII_ENCRYPTION_KEYS"])
    PII_HASH_KEY = env_str("PII_HASH_KEY", _pii_keys["PII_HASH_KEY"])
from common.pii import parse_encryption_keys as _parse_pii_keys  # noqa: E402

_parse_pii_keys(PII_ENCRYPTION_KEYS)  # a bad value stops start-up naming the variable

# --- Sign-in: lockout (django-axes), caches ---------------------------------------------------
# Axes refuses a login before the password is checked once an account or an address has failed
# too often (README "Accounts and sign-in").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading own and group permissions in one query (org.auth).
    "org.auth.PermissionBackend",
    # Peer-review evaluators' one-time SMS codes; after axes, so wrong codes count and lock too.
    "villages.auth.EvaluatorLoginCodeBackend",
]
# Counts are rows in the database (AxesDatabaseHandler), not cache entries: every process sees
# them, they survive a restart, and administrators see and lift locks in the admin (登录锁定).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30))
# Either an account or an address reaching the limit locks: guessing one account's password
# from many addresses, and many accounts' from one address, both stop.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe the count: with the address counted too, logging into one's own
# account would otherwise reset the count of an address that is guessing other accounts.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ADMIN = False  # org.admin shows the locks with Chinese labels instead
# The admin login page's refusal; the API answers in its own error format (org.api.views).
AXES_LOCKOUT_TEMPLATE = "org/login_locked.html"
AXES_VERBOSE = False
AXES_COOLOFF_MESSAGE = "登录失败次数过多，账号或地址已被锁定，请稍后再试或联系管理员解锁"
AXES_PERMALOCK_MESSAGE = AXES_COOLOFF_MESSAGE

# DRF's throttle counts must be shared by every process: Redis when a cache URL is given,
# otherwise a table in PostgreSQL (created after every migrate by org.apps).
CACHE_URL = env_url("CACHE_URL", ("redis", "rediss")) or env_url("REDIS_URL", ("redis", "rediss"))
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# The zone in which a "business date" (batch date, due date) is read; normally the same as
# TIME_ZONE, kept separate so a bank outside China+8 could still run batches on its local day.
BUSINESS_TZ = env_timezone("BUSINESS_TZ", "Asia/Shanghai")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "org.auth.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["org.api.filters.TenantFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "common.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
    # DRF's parsers with the input filter (common.input_filter) over every parsed body.
    "DEFAULT_PARSER_CLASSES": [
        "common.api.parsers.JSONParser",
        "common.api.parsers.FormParser",
        "common.api.parsers.MultiPartParser",
    ],
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.NamespaceVersioning",
    "ALLOWED_VERSIONS": ["v1"],
    "DEFAULT_VERSION": "v1",
}
# However active a tablet is, its token dies this long after it was issued: a stolen token cannot
# be kept alive by using it. knox caps each refresh at created + this, and deletes and refuses
# (401) a token past its expiry.
DEVICE_TOKEN_MAX_AGE = timedelta(days=env_int("DEVICE_TOKEN_MAX_AGE_DAYS", 30))
REST_KNOX = {
    # A tablet's token lasts a working fortnight; staff log in again after that. Every
    # authenticated call pushes the expiry forward so an active tablet is not cut off mid-visit.
    "TOKEN_TTL": timedelta(days=14),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": DEVICE_TOKEN_MAX_AGE,
    "AUTH_HEADER_PREFIX": "Token",
}
KNOX_TOKEN_MODEL = "org.DeviceToken"
SPECTACULAR_SETTINGS = {
    "TITLE": "整村授信平台 API (village credit platform)",
    "DESCRIPTION": (
        "REST API for account managers' PAD tablets and borrower self-service. "
        "Authenticate with POST /api/v1/auth/login/ and send `Authorization: Token <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several models have a "status"; name each enum after its model so clients get stable types.
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "products.models.ProductStatus",
        "ProductVersionStatusEnum": "products.models.VersionStatus",
        "CampaignStatusEnum": "villages.models.Campaign.Status",
        "ReviewRoundStatusEnum": "villages.models.PeerReviewRound.Status",
        "ImportJobStatusEnum": "villages.models.ImportJob.Status",
        "InstitutionKindEnum": "org.models.Institution.Kind",
        "FieldVisitPurposeEnum": "villages.models.FieldVisit.Purpose",
        "VisitPhotoKindEnum": "villages.models.VisitPhoto.Kind",
        "PeerReviewEvaluatorKindEnum": "villages.models.PeerReviewEvaluator.Kind",
        "ListColourEnum": "villages.models.ListColour",
        "ProductPurposeEnum": "products.models.PurposeCategory",
        "DecisionKindEnum": "risk.decisions.models.DecisionKind",
        "DecisionOutcomeEnum": "risk.decisions.models.Outcome",
        "CreditLineStatusEnum": "lending.lines.models.LineStatus",
        "ApplicationStatusEnum": "lending.applications.models.ApplicationStatus",
        "ContractStatusEnum": "lending.contracts.models.ContractStatus",
        "ContractSignerStatusEnum": "lending.contracts.models.ContractSigner.Status",
        "SignerRoleEnum": "lending.contracts.models.SignerRole",
        "ChannelEnum": "products.models.Channel",
        "RepaymentMethodEnum": "products.schedule.RepaymentMethod",
        "RequiredDocumentEnum": "products.models.RequiredDocument",
        "RejectReasonEnum": "lending.applications.models.RejectReason",
        "LoanStatusEnum": "lending.loans.models.LoanStatus",
        "LoanClassEnum": "lending.loans.models.LoanClass",
        "LoanTransactionKindEnum": "lending.loans.models.TransactionKind",
    },
}

# --- Electronic contracts (lending.contracts) ---------------------------------------------------
# The CJK font every contract PDF embeds: the project's own file (``make fonts``), never the
# machine's fonts. The seal and the timestamp authority are outside systems behind interfaces;
# the defaults are the SANDBOX ones (a demo CA made on this machine), which nobody else trusts.
CONTRACT_FONT_PATH = Path(
    env_str("CONTRACT_FONT_PATH", str(VAR_DIR / "fonts" / "wqy-microhei.ttc"))
)
# --- Servicing (lending.loans) ---------------------------------------------------------------
# The bank's core-banking system, behind lending.corebank.gateway; the default is the SANDBOX
# core, whose deposit accounts live in this database (admin 核心账户(沙箱)).
CORE_BANKING_GATEWAY = env_str("CORE_BANKING_GATEWAY", "lending.corebank.sandbox.SandboxCoreBank")
# Drills only: the sandbox core answers nothing (every call raises CoreUnavailable).
SANDBOX_CORE_OUTAGE = False
# Loans per chunk of the close of business (one Celery task, one transaction each).
COB_CHUNK_SIZE = int(env_str("COB_CHUNK_SIZE", "10000"))
# Five-tier classification (五级分类): days past due beyond which a loan is substandard (次级),
# doubtful (可疑) and loss (损失); any overdue day is special mention (关注). Defaults from
# 商业银行金融资产风险分类办法 (2023).
LOAN_CLASSIFICATION_DAYS = tuple(
    int(days) for days in env_str("LOAN_CLASSIFICATION_DAYS", "90,270,360").split(",")
)

CONTRACT_SEALER = env_str("CONTRACT_SEALER", "lending.contracts.sealing.SandboxContractSealer")
CONTRACT_TIMESTAMP_AUTHORITY = env_str(
    "CONTRACT_TIMESTAMP_AUTHORITY", "lending.contracts.timestamps.SandboxTimestampAuthority"
)
# Used only by lending.contracts.timestamps.HttpTimestampAuthority.
CONTRACT_TSA_URL = env_str("CONTRACT_TSA_URL", "")
# A PEM bundle of the roots verification trusts besides the sandbox's (the TSA's, the seal's CA).
CONTRACT_TRUST_ROOTS_PEM = env_str("CONTRACT_TRUST_ROOTS_PEM", "")
# Production warns (lending.W202) while contracts are sealed and timestamped by the sandbox; an
# operator who has decided to run so for a while says so here, as for the risk providers.
CONTRACT_SANDBOX_ACCEPTED = env_bool("CONTRACT_SANDBOX_ACCEPTED", default=False)

# How long an Idempotency-Key is remembered, and after how long an in-flight claim whose
# process died may be taken over by a retry.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
IDEMPOTENCY_IN_FLIGHT_TIMEOUT = timedelta(minutes=5)

# --- Approval (lending.applications) ----------------------------------------------------------
# An item waiting longer than this in a reviewer's queue is shown as overdue (超时) in 审批任务.
APPROVAL_SLA_HOURS = env_int("APPROVAL_SLA_HOURS", 24)
# Applications waiting this long for an investigation, information or a signature lapse.
APPLICATION_EXPIRY_DAYS = env_int("APPLICATION_EXPIRY_DAYS", 30)

# --- Audit ------------------------------------------------------------------------------------
PGHISTORY_ADMIN_ALL_EVENTS = False
# Event tables are read by object (pgh_obj, indexed) and by context (pgh_context, indexed), never
# by the foreign keys they copy from the tracked row; indexing those copies only slowed every
# audited write (a village import writes 550,000 events).
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)
PGHISTORY_MIDDLEWARE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "memory"))
# With no broker the embedded default must still work: tasks then run in-process, eagerly,
# and raise their errors where they are called.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler masks ID numbers and phones in what it writes (common.logging).
    "filters": {"personal_data": {"()": "common.logging.RedactPersonalData"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes logs every sign-in, and knox every capped token refresh, at INFO.
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "knox": {"level": "WARNING"},
        # WeasyPrint reports each layout step of every contract PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Error pages and reports (DEBUG pages, mail to admins) mask personal data in what they show.
DEFAULT_EXCEPTION_REPORTER_FILTER = "common.logging.PersonalDataExceptionReporterFilter"

# --- Production hardening ---------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"https://{h}" for h in ALLOWED_HOSTS])
