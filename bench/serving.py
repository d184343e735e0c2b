"""Settings for the origination bench's gunicorn: the project's own, with a URLconf that adds the
baseline endpoint (``bench.baseline``). Only the bench starts a server with this module, so the
baseline is never reachable from a deployment."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline"
