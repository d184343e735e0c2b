"""Write-off (核销) with maker-checker, recoveries after it, and the manual classification.

Write-off: a loss-class (损失) loan is asked for by one member of staff and approved by another.
On approval the loan is brought up to date (inline close of business through yesterday), its
principal goes to write-off expense and its unpaid interest and penalty are taken back out of
income (they were accrued as income but will not be received); the loan is 已核销 with all
balances zero, and its history stays readable. Money received afterwards is a recovery
(核销后收回), posted to recovery income, never more than what was written off.

Manual classification (人工认定): staff may put a loan in a worse class than the days past
due give, with a reason; the close of business never classifies it better than that.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.clock import business_today
from common.money import positive_amount
from lending.corebank.gateway import CoreRefused, core_gateway
from lending.ledger.models import Account, EntryKind
from lending.ledger.services import journal_post
from lending.loans.models import (
    Loan,
    LoanClass,
    LoanEvent,
    LoanStatus,
    LoanTransaction,
    TransactionChannel,
    TransactionKind,
    WriteOff,
    WriteOffStatus,
)
from lending.loans.services._disbursement import LoanConflict
from lending.loans.services._repayments import (
    CASH_CHANNELS,
    _earlier,
    _lock_for_posting,
    _reference,
    _up_to_date,
)
from org.auth import require_permission
from risk.lists.services import staff_of


def loan_write_off_request(*, loan: Loan, actor, reason: str) -> WriteOff:
    """申请核销: only a loss-class active loan; one open request at a time."""
    require_permission(actor, "lending.add_writeoff", "申请核销")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写核销理由"})
    if loan.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能核销"})
    if loan.loan_class != LoanClass.LOSS:
        raise ValidationError(
            {"loan": f"只有损失类贷款可以核销(当前为{loan.get_loan_class_display()}类)"}
        )
    staff = staff_of(actor)
    if staff is None:
        raise PermissionDenied("核销须由本行工作人员申请")
    try:
        with transaction.atomic():
            write_off = WriteOff.objects.create(
                bank_id=loan.bank_id, loan=loan, reason=reason[:300], requested_by=staff
            )
            LoanEvent.objects.create(
                loan=loan,
                from_status=loan.status,
                to_status=loan.status,
                actor=staff,
                comment=f"申请核销：{reason}"[:300],
            )
    except IntegrityError as clash:
        raise ValidationError({"loan": "该贷款已有待审批的核销申请"}) from clash
    return write_off


def _decided(write_off: WriteOff, actor) -> WriteOff:
    require_permission(actor, "lending.approve_writeoff", "审批核销")
    write_off = WriteOff.objects.select_for_update().get(pk=write_off.pk)
    if write_off.status != WriteOffStatus.REQUESTED:
        raise LoanConflict({"status": f"该核销申请{write_off.get_status_display()}"})
    staff = staff_of(actor)
    if staff is None or staff.pk == write_off.requested_by_id:
        raise PermissionDenied("核销须由申请人以外的人员审批")
    return write_off


@transaction.atomic
def loan_write_off_approve(*, write_off: WriteOff, actor, comment: str = "") -> WriteOff:
    """审批通过: post the write-off and close the loan as 已核销."""
    write_off = _decided(write_off, actor)
    today = business_today()
    loan = _up_to_date(_lock_for_posting(write_off.loan_id), today)
    if loan.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能核销"})
    principal = loan.principal_outstanding
    interest = loan.interest_outstanding
    penalty = loan.penalty_outstanding
    reference = f"{loan.bank.code}-LN{loan.pk}-WO{write_off.pk}"
    entry, _ = journal_post(
        bank_id=loan.bank_id,
        kind=EntryKind.WRITE_OFF,
        value_date=today,
        reference=reference,
        lines=[
            (Account.WRITE_OFF_EXPENSE, principal),
            (Account.LOAN_PRINCIPAL, -principal),
            (Account.INTEREST_INCOME, interest),
            (Account.INTEREST_RECEIVABLE, -interest),
            (Account.PENALTY_INCOME, penalty),
            (Account.PENALTY_RECEIVABLE, -penalty),
        ],
        loan_id=loan.pk,
        actor=staff_of(actor),
        memo=f"贷款核销 {loan.borrower.name}",
    )
    LoanTransaction.objects.create(
        loan=loan,
        kind=TransactionKind.WRITE_OFF,
        value_date=today,
        amount=principal + interest + penalty,
        principal=principal,
        interest=interest,
        penalty=penalty,
        channel=TransactionChannel.BATCH,
        reference=reference,
        journal_entry=entry,
        actor=staff_of(actor),
    )
    before = loan.status
    loan.write_off()
    loan.written_off = principal + interest + penalty
    loan.principal_outstanding = loan.interest_outstanding = loan.penalty_outstanding = Decimal(0)
    loan.principal_due = loan.interest_due = Decimal(0)
    loan.principal_overdue = loan.interest_overdue = Decimal(0)
    loan.accrual_carry = Decimal(0)
    loan.version += 1
    loan.save()
    LoanEvent.objects.create(
        loan=loan,
        from_status=before,
        to_status=loan.status,
        actor=staff_of(actor),
        comment=f"核销本金 {principal} 元、利息 {interest} 元、罚息 {penalty} 元；{comment}"[:300],
    )
    write_off.status = WriteOffStatus.APPROVED
    write_off.principal, write_off.interest, write_off.penalty = principal, interest, penalty
    write_off.decided_by = staff_of(actor)
    write_off.decided_at = timezone.now()
    write_off.decision_comment = (comment or "")[:300]
    write_off.save()
    return write_off


@transaction.atomic
def loan_write_off_reject(*, write_off: WriteOff, actor, comment: str) -> WriteOff:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"decision_comment": "请填写驳回意见"})
    write_off = _decided(write_off, actor)
    write_off.status = WriteOffStatus.REJECTED
    write_off.decided_by = staff_of(actor)
    write_off.decided_at = timezone.now()
    write_off.decision_comment = comment[:300]
    write_off.save()
    return write_off


def loan_recover(
    *, loan: Loan, amount, key: str, actor, channel: str = TransactionChannel.COUNTER
) -> tuple[LoanTransaction, bool]:
    """核销后收回: money received on a written-off loan, to recovery income, once per key; never
    more than is still unrecovered."""
    require_permission(actor, "lending.repay_loan", "办理核销后收回")
    key = (key or "").strip()
    if not key:
        raise ValidationError({"key": "缺少收回业务编号(幂等键)"})
    amount = positive_amount(amount, field="amount", label="收回金额")
    reference = _reference(loan, key)
    earlier = _earlier(loan, reference, amount, TransactionKind.RECOVERY)
    if earlier is not None:
        return earlier, False
    if loan.status != LoanStatus.WRITTEN_OFF:
        raise LoanConflict({"status": "只有已核销的贷款才能办理核销后收回"})
    if amount > loan.written_off - loan.recovered:
        raise ValidationError(
            {"amount": f"收回金额超过尚未收回的核销金额 {loan.written_off - loan.recovered} 元"}
        )
    core_id = ""
    if channel not in CASH_CHANNELS:
        try:
            core_id = (
                core_gateway()
                .collect(
                    account=loan.deposit_account,
                    amount=amount,
                    reference=reference,
                    memo=f"核销后收回 LN{loan.pk}",
                )
                .core_id
            )
        except CoreRefused as refused:
            raise ValidationError({"amount": f"扣款失败：{refused.reason}"}) from refused
    with transaction.atomic():
        locked = _lock_for_posting(loan.pk)
        earlier = _earlier(locked, reference, amount, TransactionKind.RECOVERY)
        if earlier is not None:
            return earlier, False
        today = business_today()
        # What exceeds the unrecovered amount (a concurrent recovery got there first) is held.
        applied = min(amount, locked.written_off - locked.recovered)
        held = amount - applied
        entry, _ = journal_post(
            bank_id=locked.bank_id,
            kind=EntryKind.RECOVERY,
            value_date=today,
            reference=reference,
            lines=[
                (Account.CASH if channel in CASH_CHANNELS else Account.CORE_CLEARING, amount),
                (Account.RECOVERY_INCOME, -applied),
                (Account.SUSPENSE, -held),
            ],
            loan_id=locked.pk,
            actor=staff_of(actor),
            memo=f"核销后收回 {locked.borrower.name}",
        )
        txn = LoanTransaction.objects.create(
            loan=locked,
            kind=TransactionKind.RECOVERY,
            value_date=today,
            amount=amount,
            to_suspense=held,
            channel=channel,
            reference=reference,
            core_id=core_id,
            journal_entry=entry,
            actor=staff_of(actor),
        )
        locked.recovered += applied
        locked.suspense_balance += held
        locked.version += 1
        locked.save(update_fields=["recovered", "suspense_balance", "version", "updated_at"])
    return txn, True


@transaction.atomic
def loan_classify(*, loan: Loan, loan_class: int, actor, reason: str) -> Loan:
    """人工认定五级分类: a worse class than the automatic one, kept as a floor the close of
    business never goes above; recorded with who, when, from, to and why."""
    require_permission(actor, "lending.classify_loan", "人工认定五级分类")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写认定理由"})
    if loan_class not in LoanClass.values:
        raise ValidationError({"loan_class": "未知的五级分类"})
    locked = _lock_for_posting(loan.pk)
    if locked.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{locked.get_status_display()}，不能认定分类"})
    if loan_class < locked.loan_class:
        raise ValidationError(
            {"loan_class": f"人工认定只能下调(当前为{locked.get_loan_class_display()})"}
        )
    before = locked.get_loan_class_display()
    locked.loan_class = loan_class
    locked.loan_class_floor = loan_class
    locked.save(update_fields=["loan_class", "loan_class_floor", "updated_at"])
    LoanEvent.objects.create(
        loan=locked,
        from_status=locked.status,
        to_status=locked.status,
        actor=staff_of(actor),
        comment=f"人工认定五级分类：{before}→{LoanClass(loan_class).label}；{reason}"[:300],
    )
    return locked
