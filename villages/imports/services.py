"""Writes of the spreadsheet import: create a job, validate it, confirm it, import it.

The admin and the API call these; the Celery tasks call ``import_job_validate`` and
``import_job_import``. Status changes are conditional updates (``filter(status=old)``) so a
retried task or a double click cannot run a step twice. Progress is written in short
transactions of its own — during the big write through a second connection — so a client polling
the job sees it move while the import runs.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.audit import audit_context
from common.clock import business_today
from org.models import Staff
from villages.imports.columns import SHEETS
from villages.imports.reader import ImportFileError, check_upload, problem, read_workbook
from villages.imports.staging import STAGINGS, StagedSheet
from villages.imports.upsert import ImportConflict, lock_bank, upsert_staged
from villages.imports.validate import SheetCleaner, validate_workbook
from villages.models import ImportJob

logger = logging.getLogger(__name__)

Status = ImportJob.Status
# Enough to fix a file by; a file with more errors than this is the wrong file.
MAX_STORED_ERRORS = 20000
MAX_STORED_WARNINGS = 2000


class ImportRejected(Exception):
    """A request the job cannot take in its current state (or from this user)."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@transaction.atomic
def import_job_create(*, uploaded_by: Staff, upload: UploadedFile) -> ImportJob:
    """Store the upload and queue its validation; refuse an empty, oversized or non-xlsx file
    before anything is stored (``ImportFileError``)."""
    if uploaded_by.bank_id is None:
        raise ImportRejected("只有法人行社的员工可以导入农户数据", code="permission_denied")
    upload.seek(0)
    head = upload.read(8)
    check_upload(name=upload.name or "", size=upload.size or 0, head=head)
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    job = ImportJob.objects.create(
        bank_id=uploaded_by.bank_id,
        uploaded_by=uploaded_by,
        file=upload,
        original_filename=(upload.name or "import.xlsx")[:255],
        file_size=upload.size,
        sha256=digest.hexdigest(),
    )
    from villages.imports.tasks import import_job_validate_task

    import_job_validate_task.delay_on_commit(job.pk)
    return job


def import_job_validate(*, job_id: int) -> ImportJob:
    """Read and check every row; keep the importable rows for the confirm step."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[Status.UPLOADED, Status.VALIDATING]
    ).update(status=Status.VALIDATING, progress_percent=1)
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    try:
        _validate(job)
    except Exception:
        logger.exception("village import %s: validation failed", job_id)
        _finish(job_id, status=Status.FAILED, failure_reason="校验时发生系统错误，请稍后重试")
    return ImportJob.objects.get(pk=job_id)


def _validate(job: ImportJob) -> None:
    report = _Progress(job.pk)
    sheets_done = []

    def sheet_done(spec) -> None:  # sheets finish in any order; progress only moves forward
        sheets_done.append(spec)
        report(15 * len(sheets_done))

    try:
        with _local_path(job) as path, _without_cyclic_gc():
            today = business_today()
            # Each sheet's cells are cleaned as soon as it is read, while calamine parses the
            # others in its threads.
            cleaner = SheetCleaner(bank_id=job.bank_id, today=today)
            book = read_workbook(
                path,
                on_sheet_done=sheet_done,
                on_sheet_read=cleaner,
            )
            result = validate_workbook(
                book,
                bank_id=job.bank_id,
                today=today,
                on_progress=lambda spec: report(50 + 12 * (SHEETS.index(spec) + 1)),
                cleaner=cleaner,
            )
            staged_dir = _write_staged(job, result.staged) if result.importable_rows else ""
    except ImportFileError as exc:
        _finish(job.pk, status=Status.INVALID, errors=[problem("", None, "", exc.message)])
        return
    finally:
        report.close()
    _finish(
        job.pk,
        status=Status.INVALID if result.errors else Status.VALID,
        errors=result.errors,
        warnings=result.warnings,
        counts=result.counts,
        staged_dir=staged_dir,
        validated_at=timezone.now(),
    )


@transaction.atomic
def import_job_confirm(
    *, job: ImportJob, confirmed_by: Staff, import_valid_rows_only: bool = False
) -> ImportJob:
    """Queue the import of a validated job. A job with errors is imported only when the user
    explicitly asks for its valid rows alone."""
    if confirmed_by.bank_id != job.bank_id:
        raise ImportRejected("不能确认其他行社的导入任务", code="permission_denied")
    job.refresh_from_db()
    if job.status == Status.INVALID:
        if not import_valid_rows_only:
            raise ImportRejected(
                f"文件有{job.error_count}处错误；请修改后重新上传，或选择“仅导入有效行”",
                code="import_has_errors",
            )
        if job.importable_rows == 0:
            raise ImportRejected("文件中没有可以导入的有效行", code="nothing_to_import")
    elif job.status != Status.VALID:
        raise ImportRejected(
            f"导入任务当前状态为“{job.get_status_display()}”，不能确认导入", code="invalid_state"
        )
    moved = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
        status=Status.IMPORTING,
        progress_percent=0,
        confirmed_by=confirmed_by,
        confirmed_at=timezone.now(),
        import_valid_rows_only=import_valid_rows_only,
    )
    if not moved:
        raise ImportRejected("导入任务已被确认，请勿重复提交", code="invalid_state")
    from villages.imports.tasks import import_job_import_task

    import_job_import_task.delay_on_commit(job.pk)
    job.refresh_from_db()
    return job


def import_job_import(*, job_id: int) -> ImportJob:
    """Upsert the staged rows of a confirmed job in one transaction, audited as the job."""
    job = ImportJob.objects.select_related("confirmed_by").get(pk=job_id)
    if job.status != Status.IMPORTING:
        return job
    report = _Progress(job.pk)
    report(5)
    try:
        with (
            audit_context(user=job.confirmed_by.user_id, import_job=job.pk),
            transaction.atomic(),
        ):
            lock_bank(job.bank_id)
            # A duplicate delivery of the task waited on the lock while the first ran.
            if ImportJob.objects.filter(pk=job.pk, status=Status.IMPORTING).count() == 0:
                return ImportJob.objects.get(pk=job_id)
            with _staged_sources(job) as (sources, secrets):
                written = upsert_staged(
                    bank_id=job.bank_id,
                    staff_id=job.confirmed_by_id,
                    sources=sources,
                    secrets=secrets,
                    on_progress=report,
                )
            counts = {code: {**job.counts.get(code, {}), **written[code]} for code in written}
            # Inside the write transaction: "done" and the data commit together.
            ImportJob.objects.filter(pk=job.pk).update(
                status=Status.DONE,
                progress_percent=100,
                counts=counts,
                finished_at=timezone.now(),
            )
            staged_dir = job.staged_dir
            transaction.on_commit(lambda: _delete_staged(staged_dir))
    except IntegrityError:
        logger.warning("village import %s: a row was written concurrently", job_id, exc_info=True)
        _finish(
            job.pk,
            status=Status.FAILED,
            failure_reason="导入过程中有人同时修改了相同的农户或成员(如平板同步)，数据未写入；"
            "请重新上传校验后再导入",
            finished_at=timezone.now(),
        )
    except ImportConflict as conflict:
        _finish(
            job.pk,
            status=Status.FAILED,
            failure_reason=conflict.message,
            errors=conflict.rows,
            finished_at=timezone.now(),
        )
    except Exception:
        logger.exception("village import %s: import failed", job_id)
        _finish(
            job.pk,
            status=Status.FAILED,
            failure_reason="导入时发生系统错误，数据未写入；请稍后重试",
            finished_at=timezone.now(),
        )
    finally:
        report.close()
    return ImportJob.objects.get(pk=job_id)


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Millions of cells are millions of new tuples and strings, none of them in a reference
    cycle; the cyclic collector would walk them all again and again (measured: a third of the
    validation time of a big file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _finish(job_id: int, *, status: str, errors=None, warnings=None, **fields) -> None:
    if errors is not None:
        fields["errors"] = errors[:MAX_STORED_ERRORS]
        fields["error_count"] = len(errors)
    if warnings is not None:
        fields["warnings"] = warnings[:MAX_STORED_WARNINGS]
    ImportJob.objects.filter(pk=job_id).update(status=status, progress_percent=100, **fields)


class _Progress:
    """Writes ``progress_percent`` so pollers see it: directly when no transaction is open,
    otherwise through a second, autocommit connection (the write transaction's own updates
    would stay invisible until it commits)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.last = -1
        self._side = None

    def __call__(self, percent: int) -> None:
        percent = max(0, min(99, int(percent)))
        if percent == self.last:
            return
        self.last = percent
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job_id).update(progress_percent=percent)
            return
        try:
            if self._side is None:
                self._side = connection.get_new_connection(connection.get_connection_params())
                self._side.autocommit = True
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET progress_percent = %s WHERE id = %s",
                    [percent, self.job_id],
                )
        except Exception:  # progress is a courtesy; never fail an import over it
            logger.warning("village import %s: progress not written", self.job_id, exc_info=True)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


@contextmanager
def _local_path(job: ImportJob) -> Iterator[str]:
    """A filesystem path to the upload (calamine and zipfile read from one)."""
    try:
        path = job.file.path
    except NotImplementedError:  # remote storage: copy it down first
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as local, job.file.open("rb") as remote:
        shutil.copyfileobj(remote, local)
        local.flush()
        yield local.name


def _write_staged(job: ImportJob, staged: dict[str, StagedSheet]) -> str:
    """Each sheet's staged rows (``staging``) and ``{sheet}.secrets`` with their sealed ID
    numbers and phones (``villages.imports.protect``)."""
    directory = f"imports/staged/{job.pk}"
    files = {STAGINGS[code].file_name: sheet.content for code, sheet in staged.items()}
    files |= {f"{code}.secrets": sheet.secrets for code, sheet in staged.items() if sheet.secrets}
    for name, content in files.items():
        path = f"{directory}/{name}"
        if default_storage.exists(path):
            default_storage.delete(path)
        default_storage.save(path, ContentFile(content))
    return directory


@contextmanager
def _staged_sources(job: ImportJob):
    """The staged rows of each sheet as open files, and the sealed secrets as bytes."""
    files, secrets = {}, {}
    try:
        for spec in SHEETS:
            path = f"{job.staged_dir}/{STAGINGS[spec.code].file_name}"
            if job.staged_dir and default_storage.exists(path):
                files[spec.code] = default_storage.open(path, "rb")
            path = f"{job.staged_dir}/{spec.code}.secrets"
            if job.staged_dir and default_storage.exists(path):
                with default_storage.open(path, "rb") as sealed:
                    secrets[spec.code] = sealed.read()
        yield files, secrets
    finally:
        for stream in files.values():
            stream.close()


def staged_file_names(directory: str) -> list[str]:
    return [
        f"{directory}/{name}"
        for spec in SHEETS
        for name in (STAGINGS[spec.code].file_name, f"{spec.code}.secrets")
    ]


def _delete_staged(directory: str) -> None:
    if not directory:
        return
    for path in staged_file_names(directory):
        if default_storage.exists(path):
            default_storage.delete(path)
