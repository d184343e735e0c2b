"""Drawdown and disbursement: draw on a line, disburse through the core, cancel a failed one.

Money moves in the core after our transaction commits and never while a row lock is held:
``loan_drawdown`` records the loan (待放款) and asks for the disbursement ``on_commit``;
``loan_disburse`` marks it 放款中 and commits, calls the core with the loan's own reference
(so a retry after a crash gets the first answer instead of a second payment), then posts the
answer in a new transaction. A loan left 放款中 by a core that did not answer is retried with
the same reference by the task (and by ``loans_disbursement_retry``, which picks up any loan
waiting longer than a few minutes).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.clock import business_today
from common.money import positive_amount
from lending.applications.models import Application
from lending.corebank.gateway import CoreRefused, CoreUnavailable, core_gateway
from lending.ledger.models import Account, EntryKind
from lending.ledger.services import journal_post
from lending.lines.models import CreditLine, LineStatus
from lending.lines.services import credit_line_draw, credit_line_restore
from lending.loans.models import (
    Instalment,
    Loan,
    LoanEvent,
    LoanStatus,
    LoanTransaction,
    TransactionKind,
)
from org.auth import require_permission
from products.models import Channel
from products.schedule import ScheduleError, add_months, build_schedule
from products.selectors import product_terms_for_version
from risk.lists.services import staff_of
from villages.models import Member

logger = logging.getLogger(__name__)
HUNDRED = Decimal("100")
# A loan 放款中 for longer than this had its core call lost (a killed worker): retried.
DISBURSEMENT_STALE_AFTER = timedelta(minutes=5)


class LoanConflict(ValidationError):
    """The loan is not in a state that allows the action (409 over the API)."""


def _log(loan: Loan, before: str, actor, comment: str = "") -> None:
    LoanEvent.objects.create(
        loan=loan,
        from_status=before,
        to_status=loan.status,
        actor=staff_of(actor),
        comment=comment[:300],
    )


def _locked(loan_id: int) -> Loan:
    return Loan.objects.select_for_update(of=("self",)).select_related("bank").get(pk=loan_id)


def _disbursement_reference(loan: Loan) -> str:
    """The core's idempotency key for the loan's one disbursement."""
    return f"{loan.bank.code}-LN{loan.pk}-D"


# --- drawdown ----------------------------------------------------------------------------------


def _borrower(line: CreditLine, borrower: Member | None) -> Member:
    if line.member_id is not None:
        if borrower is not None and borrower.pk != line.member_id:
            raise ValidationError({"borrower": "分额度只能由其所属成员使用"})
        return line.member
    borrower = borrower or line.household.head
    if borrower is None or borrower.household_id != line.household_id:
        raise ValidationError({"borrower": "借款人须是该授信农户的成员"})
    return borrower


def _check_account(account: str, borrower: Member) -> str:
    account = (account or "").strip()
    if not account.isdigit() or not 12 <= len(account) <= 32:
        raise ValidationError({"deposit_account": "请填写借款人本人的存款账号(12至32位数字)"})
    try:
        found = core_gateway().account(account)
    except CoreRefused as refused:
        raise ValidationError({"deposit_account": refused.reason}) from refused
    except CoreUnavailable as down:
        raise ValidationError({"deposit_account": "核心系统暂时无法核验账号，请稍后重试"}) from down
    if found.holder_name != borrower.name:
        raise ValidationError({"deposit_account": "账户户名与借款人姓名不一致"})
    if found.status != "open":
        raise ValidationError({"deposit_account": "账户状态异常，不能放款"})
    return account


def loan_drawdown(
    *,
    line: CreditLine,
    amount,
    term_months: int,
    method: str,
    deposit_account: str,
    client_uuid: uuid.UUID,
    actor,
    channel: str = "pad",
    purpose: str = "",
    borrower: Member | None = None,
) -> tuple[Loan, bool]:
    """Draw ``amount`` on an active line (用信): a loan 待放款 with the line's pinned product
    version and rate, its disbursement asked for after commit; ``(loan, created)``.

    The same ``client_uuid`` again (a PAD resending offline work) returns the first loan; with
    other terms it is refused."""
    require_permission(actor, "lending.add_loan", "用信")
    amount = positive_amount(amount, field="amount", label="用信金额")
    if channel not in Channel.values:
        raise ValidationError({"channel": f"未知渠道 {channel}"})
    earlier = Loan.objects.filter(bank_id=line.bank_id, client_uuid=client_uuid).first()
    if earlier is not None:
        if (earlier.line_id, earlier.amount, earlier.term_months, earlier.method) != (
            line.pk,
            amount,
            term_months,
            method,
        ):
            raise ValidationError({"client_uuid": "该客户端编号已用于另一笔用信"})
        return earlier, False
    if line.status != LineStatus.ACTIVE:
        raise ValidationError({"line": f"{line.get_status_display()}的额度不能用信"})
    borrower = _borrower(line, borrower)
    terms = product_terms_for_version(version=line.product_version)
    if method not in terms.repayment_methods:
        raise ValidationError({"method": "该产品不支持此还款方式"})
    if not isinstance(term_months, int) or not (
        terms.term_min_months <= term_months <= terms.term_max_months
    ):
        raise ValidationError(
            {"term_months": f"期限须在{terms.term_min_months}至{terms.term_max_months}个月之间"}
        )
    # 授信期限内用信: a drawdown matures no later than its line (the line's contract covers it).
    if add_months(business_today(), term_months) > line.valid_until:
        raise ValidationError({"term_months": f"借款到期日不能晚于额度到期日 {line.valid_until}"})
    account = _check_account(deposit_account, borrower)
    with transaction.atomic():
        credit_line_draw(line=line, amount=amount)  # locks the line(s), checks availability
        loan = Loan.objects.create(
            bank_id=line.bank_id,
            household_id=line.household_id,
            borrower=borrower,
            line=line,
            product_id=line.product_id,
            product_version_id=line.product_version_id,
            application=Application.objects.filter(line=line).order_by("-id").first(),
            client_uuid=client_uuid,
            channel=channel,
            amount=amount,
            rate=line.rate,
            penalty_markup_pct=terms.penalty_markup_pct,
            compound_interest=terms.compound_interest,
            grace_days=terms.grace_days,
            allocation_order=terms.repayment_allocation,
            overpayment_to_suspense=terms.overpayment_to_suspense,
            method=method,
            frequency=terms.repayment_frequency,
            settlement=terms.interest_settlement,
            term_months=term_months,
            purpose=(purpose or "").strip()[:100] or "生产经营",
            deposit_account=account,
            created_by=staff_of(actor),
        )
        _schedule(loan, start=business_today())  # terms the calculator accepts, or nothing
        LoanEvent.objects.create(
            loan=loan,
            from_status=LoanStatus.PENDING,
            to_status=LoanStatus.PENDING,
            actor=staff_of(actor),
            comment=f"用信 {amount} 元，待放款",
        )
        # robust: with in-process tasks a core outage is logged and retried by 放款重试, not
        # raised into the request that already committed the loan.
        transaction.on_commit(lambda: _enqueue_disbursement(loan.pk), robust=True)
    return loan, True


def _enqueue_disbursement(loan_id: int) -> None:
    """Ask for the disbursement. A failure here (a broker that is down; with in-process tasks,
    a core that does not answer) leaves the loan waiting for the 放款重试 schedule, logged,
    and never fails the request that already committed the drawdown."""
    from lending.loans.tasks import disburse_loan

    try:
        disburse_loan.delay(loan_id)
    except Exception:
        logger.warning(
            "disbursement of loan %s not done now; 放款重试 asks again", loan_id, exc_info=True
        )


# --- disbursement ------------------------------------------------------------------------------


def loan_disburse(*, loan_id: int, actor=None) -> Loan:
    """Pay the loan into the borrower's account through the core, once.

    Three steps, none holding a lock across the core call: mark 放款中 (commit); ask the core
    with the loan's reference; post its answer (commit). Safe to run again at any point: an
    active loan is returned as it is; a loan 放款中 asks the core again with the same
    reference, which answers the first result."""
    with transaction.atomic():
        loan = _locked(loan_id)
        if loan.status in (LoanStatus.ACTIVE, LoanStatus.CLOSED, LoanStatus.WRITTEN_OFF):
            return loan
        if loan.status == LoanStatus.CANCELLED:
            raise LoanConflict({"status": "贷款已撤销，不能放款"})
        if loan.status != LoanStatus.DISBURSING:
            before = loan.status
            loan.start_disbursement()
            loan.disbursement_error = ""
            loan.save(update_fields=["status", "disbursement_error", "updated_at"])
            _log(loan, before, actor, "发起放款")
    try:
        result = core_gateway().disburse(
            account=loan.deposit_account,
            amount=loan.amount,
            reference=_disbursement_reference(loan),
            memo="贷款发放",
        )
    except CoreRefused as refused:
        with transaction.atomic():
            loan = _locked(loan_id)
            if loan.status == LoanStatus.DISBURSING:
                loan.disbursement_failed()
                loan.disbursement_error = refused.reason[:200]
                loan.save(update_fields=["status", "disbursement_error", "updated_at"])
                _log(loan, LoanStatus.DISBURSING, actor, f"核心拒绝放款：{refused.reason}")
        return loan
    with transaction.atomic():
        loan = _locked(loan_id)
        if loan.status != LoanStatus.DISBURSING:
            return loan  # a concurrent retry posted it
        _post_disbursement(loan, result, actor)
    return loan


def _schedule(loan: Loan, *, start):
    """The loan's schedule from the products calculator; its terms refused with the field
    named (checked at drawdown too, so that it never fails after the core has paid)."""
    try:
        return build_schedule(
            amount=loan.amount,
            term_months=loan.term_months,
            method=loan.method,
            annual_rate=loan.rate / HUNDRED,
            start_date=start,
            frequency=loan.frequency,
            settlement=loan.settlement,
        )
    except ScheduleError as error:
        raise ValidationError({error.field: error.message}) from error


def _instalments_create(loan: Loan, schedule, *, first_number: int = 1) -> None:
    """The loan's schedule rows (还款计划) from the calculator's instalments."""
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=first_number - 1 + item.number,
            period_start=item.period_start,
            due_date=item.due_date,
            principal_due=item.principal,
            interest_due=item.interest,
        )
        for item in schedule
    )


def _post_disbursement(loan: Loan, result, actor) -> None:
    value_date = timezone.localtime(result.posted_at).date()
    schedule = _schedule(loan, start=value_date)
    entry, _ = journal_post(
        bank_id=loan.bank_id,
        kind=EntryKind.DISBURSEMENT,
        value_date=value_date,
        reference=result.reference,
        lines=[(Account.LOAN_PRINCIPAL, loan.amount), (Account.CORE_CLEARING, -loan.amount)],
        loan_id=loan.pk,
        actor=staff_of(actor),
        memo=f"贷款发放 {loan.borrower.name}",
    )
    _instalments_create(loan, schedule)
    LoanTransaction.objects.create(
        loan=loan,
        kind=TransactionKind.DISBURSEMENT,
        value_date=value_date,
        amount=loan.amount,
        principal=loan.amount,
        channel=loan.channel,
        reference=result.reference,
        core_id=result.core_id,
        journal_entry=entry,
        actor=staff_of(actor),
    )
    loan.disbursed()
    loan.start_date = value_date
    loan.maturity_date = schedule[-1].due_date
    loan.accrued_through = value_date - timedelta(days=1)  # interest runs from the start day
    loan.principal_outstanding = loan.amount
    loan.disbursed_at = result.posted_at
    loan.disbursement_core_id = result.core_id
    loan.version += 1
    loan.save(
        update_fields=[
            "status",
            "start_date",
            "maturity_date",
            "accrued_through",
            "principal_outstanding",
            "disbursed_at",
            "disbursement_core_id",
            "version",
            "updated_at",
        ]
    )
    _log(loan, LoanStatus.DISBURSING, actor, f"放款成功，核心流水号 {result.core_id}")


@transaction.atomic
def loan_cancel(*, loan: Loan, actor, reason: str) -> Loan:
    """撤销: a loan never paid out (待放款 or 放款失败) is cancelled and its line given back."""
    require_permission(actor, "lending.disburse_loan", "撤销放款")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写撤销原因"})
    loan = _locked(loan.pk)
    if loan.status not in (LoanStatus.PENDING, LoanStatus.FAILED):
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能撤销"})
    before = loan.status
    loan.cancel()
    loan.save(update_fields=["status", "updated_at"])
    credit_line_restore(line=loan.line, amount=loan.amount)
    _log(loan, before, actor, reason)
    return loan


def loan_disbursement_retry(*, loan: Loan, actor) -> None:
    """重新放款 after a refusal was fixed (the account unfrozen): asked again after commit."""
    require_permission(actor, "lending.disburse_loan", "重新放款")
    if loan.status not in (LoanStatus.FAILED, LoanStatus.PENDING, LoanStatus.DISBURSING):
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能放款"})
    transaction.on_commit(lambda: _enqueue_disbursement(loan.pk), robust=True)


def loans_disbursement_retry() -> int:
    """Loans waiting for the core longer than ``DISBURSEMENT_STALE_AFTER`` (a lost call, a
    killed worker) are asked again with their reference; the number asked."""
    stale = list(
        Loan.objects.filter(
            status__in=[LoanStatus.PENDING, LoanStatus.DISBURSING],
            updated_at__lt=timezone.now() - DISBURSEMENT_STALE_AFTER,
        ).values_list("pk", flat=True)
    )
    for loan_id in stale:
        _enqueue_disbursement(loan_id)
    return len(stale)
