"""The Celery application.

Tasks subclass ``DjangoTask`` so a service can call ``task.delay_on_commit(...)``: the message is
sent only once the transaction that made the work commits, never for work that rolled back.
With ``CELERY_BROKER_URL`` unset the settings make tasks run eagerly in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("village_credit", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules that do not sit at <app>/tasks.py.
app.autodiscover_tasks(
    [
        "villages.imports",
        "risk.decisions",
        "lending.lines",
        "lending.applications",
        "lending.contracts",
    ]
)
