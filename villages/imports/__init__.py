"""Spreadsheet import of whole villages: households, members and economic archives.

template → upload (``services.import_job_create``) → validate (``reader`` + ``validate``, in a
Celery task) → preview → confirm → upsert (``upsert``: COPY into staging, set-based SQL).
"""
