"""Celery tasks of the import: ids in, one service call. The services record failures on the
job themselves, so the tasks retry only when the database could not be reached at all."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from villages.imports.services import import_job_import, import_job_validate


@shared_task(
    name="villages.import_job_validate",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def import_job_validate_task(job_id: int) -> None:
    import_job_validate(job_id=job_id)


@shared_task(
    name="villages.import_job_import",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def import_job_import_task(job_id: int) -> None:
    import_job_import(job_id=job_id)
