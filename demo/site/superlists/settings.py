"""Settings for the roadie demo site: a superlists-like staging site.

Everything that differs per server comes from the environment (the site's
.env, applied by the server's process manager, or by roadie's tasks).
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

if "DJANGO_DEBUG_FALSE" in os.environ:
    DEBUG = False
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
else:
    DEBUG = True
    SECRET_KEY = "insecure-key-for-dev"

SITENAME = os.environ.get("SITENAME", "localhost")
ALLOWED_HOSTS = [SITENAME, "127.0.0.1", "localhost"] + [
    host
    for host in os.environ.get("DJANGO_ALLOWED_HOST", "").split(",")
    + os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")
    if host
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "accounts",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "superlists.urls"
WSGI_APPLICATION = "superlists.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", BASE_DIR / "db.sqlite3"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"

USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
