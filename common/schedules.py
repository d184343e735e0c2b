"""Default periodic task schedules (django-celery-beat), created when missing.

Schedules are data so operations can change the hour in the admin (周期性任务) without a deploy.
They are (re)created after every migrate — and after a test flush — only when absent, so an
edited schedule is never overwritten. Higher layers add theirs with ``register_default``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    hour: str
    minute: str


_DEFAULTS: list[DefaultSchedule] = [
    DefaultSchedule(
        name="清理过期幂等记录",
        task="common.tasks.purge_expired_idempotency_records",
        hour="3",
        minute="15",
    ),
]


def register_default(schedule: DefaultSchedule) -> None:
    _DEFAULTS.append(schedule)


def schedules_ensure_defaults() -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    for default in _DEFAULTS:
        if PeriodicTask.objects.filter(task=default.task).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=default.minute,
            hour=default.hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="Asia/Shanghai",
        )
        PeriodicTask.objects.create(name=default.name, task=default.task, crontab=crontab)


def ensure_defaults_after_migrate(sender, **kwargs) -> None:
    from common.migrate_hooks import is_last_post_migrate

    if is_last_post_migrate(sender):
        schedules_ensure_defaults()
