"""Electronic contracts (电子合同): templates, rendered contracts, who signs them, one-time
signing codes, the evidence chain, and the sandbox trust anchors.

Choices written down once:

- **Templates** are the federation's, shared by every bank's product versions (a bank's product
  names a template by ``code``; the admin edits them province-wide). A code has numbered
  versions; only a draft is edited, activating one retires the code's earlier active version,
  and a rendered contract pins the version it was rendered from.
- **PDF bytes live in the database** (``BinaryField``), not in MEDIA_ROOT: the bytes, their
  SHA-256 and the evidence record that names that hash are written in one transaction, so a
  rolled-back render leaves no orphan file and a lost file can never break a contract's proof.
  A contract is 30–100 KB; lists ``defer`` the two PDF columns.
- **One live contract per application**: a re-render (terms or template changed) marks the
  previous one 已作废 with ``superseded_by`` pointing at the new one; a code or signature aimed
  at the old render is refused.
- **The evidence chain is per contract**: each contract's records carry its own sequence and the
  previous record's hash, so one contract's proof stands alone in court (the report needs no other
  contract's rows) and appending locks only that contract's row. A re-render's first record names
  the superseded contract and that contract's last hash, which links the two chains.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from lending.applications.models import Application
from lending.lines.models import CreditLine
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models import Member


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ACTIVE = "active", "已启用"
    RETIRED = "retired", "已停用"


class ContractTemplate(models.Model):
    """One version of a contract text: HTML with Django template syntax (合同模板)."""

    code = models.CharField("模板编号", max_length=60)
    version = models.PositiveSmallIntegerField("版本号")
    title = models.CharField("合同名称", max_length=100)
    body = models.TextField(
        "合同正文(HTML)",
        help_text="可使用 {{ borrower.name }}、{{ amount_capital }} 等变量，见预览页的示例数据",
    )
    status = models.CharField(
        "状态", max_length=10, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT
    )
    note = models.CharField("修订说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="编辑人",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)
    activated_at = models.DateTimeField("启用时间", null=True, blank=True)
    activated_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="启用人",
    )

    class Meta:
        verbose_name = "合同模板"
        verbose_name_plural = "合同模板"
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="contract_template_version"),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(status="active"),
                name="contract_template_one_active",
                violation_error_message="同一模板编号只能有一个启用的版本",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title}（第{self.version}版）"


class ContractStatus(models.TextChoices):
    PENDING = "pending", "待签署"
    SIGNED = "signed", "已签署"
    VOID = "void", "已作废"


class ContractQuerySet(TenantQuerySet):
    def without_pdfs(self) -> ContractQuerySet:
        return self.defer("pdf", "signed_pdf")

    def live(self) -> ContractQuerySet:
        return self.exclude(status=ContractStatus.VOID)


class Contract(models.Model):
    """A contract rendered for an approved application (电子合同)."""

    tenant_bank_field = "bank"
    tenant_village_field = "application__household__village"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="contracts", verbose_name="贷款申请"
    )
    line = models.ForeignKey(
        CreditLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracts",
        verbose_name="授信额度",
    )
    template = models.ForeignKey(
        ContractTemplate,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name="合同模板",
    )
    number = models.CharField("合同编号", max_length=64, unique=True)
    status = models.CharField(
        "状态", max_length=10, choices=ContractStatus.choices, default=ContractStatus.PENDING
    )
    terms = models.JSONField("合同要素", help_text="渲染时的金额、利率、期限等，原样留存")
    pdf = models.BinaryField("合同PDF")
    sha256 = models.CharField("合同摘要(SHA-256)", max_length=64)
    rendered_at = models.DateTimeField("生成时间")
    rendered_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="生成人",
    )
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="被替代为",
    )
    signed_pdf = models.BinaryField("签章后PDF", null=True, blank=True)
    signed_sha256 = models.CharField("签章后摘要(SHA-256)", max_length=64, blank=True)
    sealed_at = models.DateTimeField("银行签章时间", null=True, blank=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = "电子合同"
        verbose_name_plural = "电子合同"
        ordering = ["-rendered_at", "-id"]
        permissions = [("download_contract", "可下载合同PDF(含完整身份信息)")]
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=~Q(status="void"),
                name="contract_one_live_per_application",
                violation_error_message="该申请已有有效合同",
            ),
        ]
        indexes = [models.Index(fields=["bank", "status"], name="contract_bank_status")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_latest(self) -> bool:
        return self.superseded_by_id is None and self.status != ContractStatus.VOID


class SignerRole(models.TextChoices):
    BORROWER = "borrower", "借款人"
    CO_BORROWER = "co_borrower", "共同借款人"
    GUARANTOR = "guarantor", "保证人"


class ContractSigner(models.Model):
    """A party who must sign: the applicant, each co-borrower and each guarantor (签署方).

    ``failed_attempts`` counts wrong codes; the fifth locks signing until ``locked_until``
    (carried to a re-rendered contract so that a re-render does not reset a guesser)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待签署"
        SIGNED = "signed", "已签署"

    tenant_bank_field = "contract__bank"
    tenant_village_field = "contract__application__household__village"

    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="signers", verbose_name="电子合同"
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", verbose_name="签署人"
    )
    role = models.CharField("身份", max_length=12, choices=SignerRole.choices)
    order = models.PositiveSmallIntegerField("顺序", default=0)
    status = models.CharField("签署状态", max_length=10, choices=Status.choices, default="pending")
    signed_at = models.DateTimeField("签署时间", null=True, blank=True)
    signature = models.BinaryField("签名图片(PNG)", null=True, blank=True)
    signature_sha256 = models.CharField("签名图片摘要", max_length=64, blank=True)
    device_id = models.CharField("签署设备", max_length=64, blank=True)
    failed_attempts = models.PositiveSmallIntegerField("验证码错误次数", default=0)
    locked_until = models.DateTimeField("锁定至", null=True, blank=True)

    class Meta:
        verbose_name = "签署方"
        verbose_name_plural = "签署方"
        ordering = ["contract", "order"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "member"], name="contract_signer_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.member.name}"


class SigningCode(models.Model):
    """A one-time signing code texted to a signer (签署验证码). Only a keyed hash is kept, bound
    to the signer and to the SHA-256 of the render it was sent for."""

    signer = models.ForeignKey(
        ContractSigner, on_delete=models.CASCADE, related_name="codes", verbose_name="签署方"
    )
    code_hash = models.CharField("验证码摘要", max_length=64)
    document_sha256 = models.CharField("对应合同摘要", max_length=64)
    created_at = models.DateTimeField("发送时间")
    expires_at = models.DateTimeField("失效时间")
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = "签署验证码"
        verbose_name_plural = "签署验证码"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.signer} @ {self.created_at:%Y-%m-%d %H:%M}"


class EvidenceKind(models.TextChoices):
    RENDERED = "rendered", "合同生成"
    CODE_SENT = "code_sent", "发送签署验证码"
    SIGNED = "signed", "签署"
    SEALED = "sealed", "银行电子签章"
    SUPERSEDED = "superseded", "合同作废(被新版本替代)"


class EvidenceRecord(models.Model):
    """One event of a contract in its hash chain (存证记录).

    ``record_hash`` is SHA-256 over the canonical JSON of (contract number, sequence, kind, time,
    payload, ``prev_hash``) (``lending.contracts.evidence``); the first record's ``prev_hash`` is
    64 zeros. ``tsa_token`` is an RFC 3161 TimeStampResp over ``record_hash`` from the timestamp
    authority, fetched after the record's transaction commits. Rows are never updated except to
    add the token."""

    tenant_bank_field = "contract__bank"
    tenant_village_field = "contract__application__household__village"

    contract = models.ForeignKey(
        Contract, on_delete=models.PROTECT, related_name="evidence", verbose_name="电子合同"
    )
    sequence = models.PositiveIntegerField("序号")
    kind = models.CharField("事件", max_length=12, choices=EvidenceKind.choices)
    signer = models.ForeignKey(
        ContractSigner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="签署方",
    )
    at = models.DateTimeField("发生时间")
    payload = models.JSONField("事件内容")
    prev_hash = models.CharField("上一条摘要", max_length=64)
    record_hash = models.CharField("本条摘要", max_length=64)
    tsa_token = models.BinaryField("时间戳凭证(RFC 3161)", null=True, blank=True)
    tsa_time = models.DateTimeField("可信时间", null=True, blank=True)

    class Meta:
        verbose_name = "存证记录"
        verbose_name_plural = "存证记录"
        ordering = ["contract", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "sequence"], name="evidence_sequence"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.get_kind_display()}"


class TrustCertificate(models.Model):
    """A certificate and its key for the sandbox trust services: the demo root CA, the sandbox
    timestamp authority and each bank's contract seal (``lending.contracts.pki``).

    Sandbox only: a real deployment keeps the bank's seal key in its signing device and uses a
    licensed TSA; nothing here is trusted outside this system. The key is sealed with the
    project's data key (``common.pii.seal``), never stored in clear."""

    class Kind(models.TextChoices):
        ROOT = "root", "演示根证书(沙箱)"
        TSA = "tsa", "时间戳服务证书(沙箱)"
        SEAL = "seal", "银行电子签章证书(沙箱)"

    kind = models.CharField("类型", max_length=8, choices=Kind.choices)
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社",
    )
    subject = models.CharField("证书主题", max_length=200)
    certificate_pem = models.TextField("证书(PEM)")
    sealed_key = models.BinaryField("私钥(加密)")
    fingerprint = models.CharField("证书指纹(SHA-256)", max_length=64, unique=True)
    valid_until = models.DateTimeField("有效期至")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "沙箱证书"
        verbose_name_plural = "沙箱证书"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "bank"], name="trust_certificate_once", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return self.subject
