"""Applications from create to contract: create (idempotent by the client's UUID), submit and
decide, withdraw, attachments, and the contract steps. Each transition locks the row, checks
the state, records an ``ApplicationEvent``; a second concurrent transition finds the state
changed and gets a clear error, never a double approval."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.clock import business_today
from common.money import positive_amount
from lending.applications.models import (
    APPROVED_STATUSES,
    WITHDRAWABLE,
    Application,
    ApplicationEvent,
    ApplicationParty,
    ApplicationStatus,
    ApprovalTask,
    TaskStatus,
)
from lending.lines.models import LineStatus
from lending.lines.services import credit_line_grant, credit_line_transition
from org.auth import require_permission
from products.models import CustomerSegment
from products.schedule import RepaymentMethod
from products.selectors import product_terms_effective
from risk.decisions.services import decision_make
from risk.features import (
    FARMER,
    INDIVIDUAL_BUSINESS,
    URBAN_RESIDENT,
    household_feature_row,
    segment_for_row,
)
from risk.lists.models import LEVEL_SEVERITY, ListLevel
from risk.lists.selectors import risk_list_hits
from risk.lists.services import staff_of
from villages.validation import normalise_text

S = ApplicationStatus
# A list entry at these levels keeps a member from guaranteeing or co-borrowing.
_BLOCKING = LEVEL_SEVERITY[ListLevel.BLACKLIST_RESTRICT]


class ApplicationConflict(ValidationError):
    """The application changed state under this request (another transition won); the API
    answers 409."""


def _log(application, before: str, actor, comment: str = "") -> None:
    ApplicationEvent.objects.create(
        application=application,
        from_status=before,
        to_status=application.status,
        actor=staff_of(actor),
        comment=comment,
        at=timezone.now(),
    )


def application_check(
    *,
    household,
    applicant,
    product,
    amount,
    term_months: int,
    repayment_method: str,
    channel: str,
    co_borrowers: Sequence = (),
    guarantors: Sequence = (),
    line=None,
) -> Decimal:
    """Everything an application is refused for before it is stored, each error naming its
    field: the applicant outside the household or the product's age band, a product not sold
    through the channel, amount, term or repayment method outside the product's terms, a
    guarantor who is the borrower or lives in the borrower's household, a co-borrower or
    guarantor on a blacklist, a line that is not the household's or not usable."""
    amount = positive_amount(amount, field="amount", label="申请金额")
    today = business_today()
    errors: dict[str, str] = {}
    if applicant.household_id != household.pk:
        errors["applicant"] = "申请人不是该农户的成员"
    if channel not in (product.channels or []):
        errors["channel"] = "该产品不在此渠道销售"
    if product.segments and not set(product.segments) & _customer_segments(household):
        errors["product"] = "该产品不适用于此农户所属客群"
    terms = product_terms_effective(product=product, on_date=today, bank_id=household.bank_id)
    if not terms.amount_min <= amount <= terms.amount_max:
        errors["amount"] = f"申请金额须在 {terms.amount_min} 至 {terms.amount_max} 元之间"
    if not terms.term_min_months <= int(term_months) <= terms.term_max_months:
        errors["term_months"] = (
            f"期限须在 {terms.term_min_months} 至 {terms.term_max_months} 个月之间"
        )
    if repayment_method not in terms.repayment_methods:
        allowed = "、".join(RepaymentMethod(m).label for m in terms.repayment_methods)
        errors["repayment_method"] = f"该产品的还款方式为：{allowed}"
    age = applicant.age_on(today)
    if not terms.age_min <= age <= terms.age_max:
        errors["applicant"] = f"申请人年龄须在 {terms.age_min} 至 {terms.age_max} 岁之间"
    for field, members in (("co_borrowers", co_borrowers), ("guarantors", guarantors)):
        for member in members:
            if member.pk == applicant.pk:
                errors[field] = "申请人不能同时是共同借款人或保证人"
            elif field == "guarantors" and member.household_id == household.pk:
                # A household's income backs its own loan already; its guarantee adds nothing.
                errors[field] = f"保证人{member.name}与借款人同户，不能作保"
            elif _blocked(member, household.bank_id):
                errors[field] = f"{member.name}在风险名单上，不能作为共同借款人或保证人"
    if line is not None:
        if line.household_id != household.pk or line.product_id != product.pk:
            errors["line"] = "该额度不属于此农户或此产品"
        elif line.status not in (LineStatus.PRE_APPROVED, LineStatus.ACTIVE):
            errors["line"] = f"额度{line.get_status_display()}，不能申请"
        elif line.valid_until < today:
            errors["line"] = "额度已过有效期"
        elif line.status == LineStatus.ACTIVE and amount > line.available:
            errors["amount"] = f"申请金额超过额度可用余额 {line.available} 元"
    if errors:
        raise ValidationError(errors)
    return amount


# The scoring segment a household's data puts it in (risk.features) and the product catalogue's
# customer segments it may buy as: a farming household is a farmer or a new agricultural
# entity, a household with a business an individual business or small-enterprise owner, a
# household living on wages a salaried worker or public servant.
_CUSTOMER_SEGMENTS = {
    FARMER: {CustomerSegment.FARMER, CustomerSegment.NEW_AGRI_ENTITY},
    INDIVIDUAL_BUSINESS: {
        CustomerSegment.INDIVIDUAL_BUSINESS,
        CustomerSegment.SMALL_ENTERPRISE_OWNER,
    },
    URBAN_RESIDENT: {CustomerSegment.SALARIED, CustomerSegment.PUBLIC_SERVANT},
}


def _customer_segments(household) -> set[str]:
    segment = segment_for_row(household_feature_row(household))
    return {str(s) for s in _CUSTOMER_SEGMENTS.get(segment, {CustomerSegment.FARMER})}


def _blocked(member, bank_id: int) -> bool:
    hits = risk_list_hits(
        bank_id=bank_id,
        id_number=None,
        id_number_hash=bytes(member.id_number_hash),
        on_date=business_today(),
    )
    return any(hit.severity >= _BLOCKING for hit in hits)


def application_create(
    *,
    client_uuid,
    household,
    applicant,
    product,
    amount,
    term_months: int,
    repayment_method: str,
    purpose: str,
    channel: str,
    actor=None,
    co_borrowers: Sequence = (),
    guarantors: Sequence = (),
    line=None,
    device_id: str = "",
) -> tuple[Application, bool]:
    """A draft application, or the one already sent with ``client_uuid`` (an offline PAD's
    resend): ``(application, created)``."""
    existing = Application.objects.filter(bank_id=household.bank_id, client_uuid=client_uuid)
    if (found := existing.first()) is not None:
        if found.household_id != household.pk:
            # The same client UUID used for another household of the bank: not a resend.
            raise ValidationError({"client_uuid": "该申请编号已用于另一农户的申请"})
        return found, False
    purpose = normalise_text(purpose or "")
    if not purpose:
        raise ValidationError({"purpose": "请填写借款用途"})
    amount = application_check(
        household=household,
        applicant=applicant,
        product=product,
        amount=amount,
        term_months=term_months,
        repayment_method=repayment_method,
        channel=channel,
        co_borrowers=co_borrowers,
        guarantors=guarantors,
        line=line,
    )
    try:
        with transaction.atomic():
            application = Application.objects.create(
                bank_id=household.bank_id,
                client_uuid=client_uuid,
                channel=channel,
                household=household,
                applicant=applicant,
                product=product,
                line=line,
                amount=amount,
                term_months=int(term_months),
                repayment_method=repayment_method,
                purpose=purpose,
                device_id=device_id or "",
                created_by=staff_of(actor),
            )
            ApplicationParty.objects.bulk_create(
                [
                    ApplicationParty(application=application, member=m, role=role)
                    for role, members in (
                        (ApplicationParty.Role.CO_BORROWER, co_borrowers),
                        (ApplicationParty.Role.GUARANTOR, guarantors),
                    )
                    for m in members
                ]
            )
            _log(application, "", actor, "创建申请")
    except IntegrityError:
        # The same resend arriving twice at once: the other request created it.
        return existing.get(), False
    return application, True


@transaction.atomic
def application_submit(*, application: Application, actor=None) -> Application:
    """Submit a draft and decide it with the product's strategy at once: APPROVE within the
    product's automatic limit → 自动审批通过 (amount and rate as decided), REFER → 转人工审批
    with the levels the decision requires, REJECT → 已拒绝 with the decision's reason."""
    require_permission(actor, "lending.add_application", "提交贷款申请")
    application = _locked(application, expected=[S.DRAFT], doing="提交")
    application.submit()
    submitted_at = application.submitted_at = timezone.now()
    # Both steps are saved (and logged) once, after the decision: one UPDATE and one INSERT
    # of two events instead of two of each, on the path every PAD submission takes.
    decision = decision_make(
        household=application.household,
        product=application.product,
        actor=actor,
        member=application.applicant,
        requested_amount=application.amount,
        device_id=application.device_id,
    )
    application.decision = decision
    application.product_version_id = decision.product_version_id
    application.approval_levels = list(decision.approval_levels)
    if decision.outcome == "approve":
        application.auto_approve()
        application.approved_amount = application.amount
        application.approved_rate = decision.rate
        _grant_line(application, actor)
        comment = "决策通过，自动审批"
    elif decision.outcome == "refer":
        application.refer()
        comment = "决策转人工审批"
    else:
        application.reject_by_decision()
        comment = "决策拒绝"
    application.save(
        update_fields=[
            "status",
            "submitted_at",
            "decision",
            "product_version",
            "approval_levels",
            "approved_amount",
            "approved_rate",
            "line",
            "updated_at",
        ]
    )
    staff = staff_of(actor)
    ApplicationEvent.objects.bulk_create(
        [
            ApplicationEvent(
                application=application,
                from_status=S.DRAFT,
                to_status=S.SUBMITTED,
                actor=staff,
                at=submitted_at,
            ),
            ApplicationEvent(
                application=application,
                from_status=S.SUBMITTED,
                to_status=application.status,
                actor=staff,
                comment=comment,
                at=timezone.now(),
            ),
        ]
    )
    return application


def _grant_line(application: Application, actor) -> None:
    """An approved application's line: the pre-approved line it named, resized to what was
    approved, or a new pre-approved line; its contract activates it. An application against an
    active line borrows on that line and grants nothing."""
    if application.line is not None and application.line.status == LineStatus.ACTIVE:
        return
    application.line = credit_line_grant(
        bank_id=application.bank_id,
        household_id=application.household_id,
        product=application.product,
        product_version_id=application.product_version_id,
        decision_id=application.decision_id,
        amount=application.approved_amount,
        rate=application.approved_rate,
        actor=actor,
        reason=f"贷款申请审批通过（{application.applicant.name}，{application.purpose}）",
    )


@transaction.atomic
def application_contract_prepare(*, application: Application, actor=None) -> Application:
    """Approved → 待签约, once the contract has been rendered (called by the contracts
    services in the same transaction as the render)."""
    application = _locked(application, expected=APPROVED_STATUSES, doing="生成合同")
    before = application.status
    application.prepare_contract()
    application.save(update_fields=["status", "updated_at"])
    _log(application, before, actor, "合同已生成，待签约")
    return application


@transaction.atomic
def application_contract_signed(*, application: Application, actor=None) -> Application:
    """待签约 → 已签约 when every party has signed; a pre-approved line becomes active."""
    application = _locked(application, expected=[S.CONTRACT_PENDING], doing="完成签约")
    before = application.status
    application.sign_contract()
    application.save(update_fields=["status", "updated_at"])
    _log(application, before, actor, "各方已签署合同")
    if application.line is not None and application.line.status == LineStatus.PRE_APPROVED:
        credit_line_transition(
            line=application.line, action="activate", actor=actor, reason="合同签署完成"
        )
    return application


@transaction.atomic
def application_withdraw(*, application: Application, actor=None, reason: str = "") -> Application:
    require_permission(actor, "lending.change_application", "撤回贷款申请")
    application = _locked(application, expected=WITHDRAWABLE, doing="撤回")
    before = application.status
    application.withdraw()
    application.save(update_fields=["status", "updated_at"])
    ApprovalTask.objects.filter(application=application, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, closed_at=timezone.now()
    )
    _release_line(application, actor)
    _log(application, before, actor, normalise_text(reason or ""))
    return application


def _release_line(application: Application, actor) -> None:
    """A line granted by this application alone (not a campaign's) is closed when the
    application ends without a contract; a campaign's pre-approved line stays for later."""
    line = application.line
    if (
        line is not None
        and line.status == LineStatus.PRE_APPROVED
        and line.decision_id is not None
        and line.decision_id == application.decision_id
    ):
        credit_line_transition(
            line=line,
            action="close",
            actor=actor,
            reason=f"申请{application.get_status_display()}，额度未签约",
        )


def _locked(application: Application, *, expected, doing: str) -> Application:
    locked = (
        Application.objects.select_for_update(of=("self",))
        .select_related("household__village", "applicant", "product")
        .get(pk=application.pk)
    )
    if locked.status not in expected:
        error = ApplicationConflict(
            {"status": f"申请当前为{locked.get_status_display()}，不能{doing}"}
        )
        raise error
    return locked
