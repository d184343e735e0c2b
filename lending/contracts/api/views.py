"""Contracts for the PAD and self-service: read an application's contract (or render it once the
application is approved), download the PDF, request a signing code, sign. Another bank's or
another village's contract is a 404. Signing answers its refusals as responses rather than
raising them, so a wrong code's count is committed with the answer (``services`` docstring)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.idempotency import idempotent
from common.masking import mask_phone
from lending.applications.models import Application
from lending.contracts import services
from lending.contracts.api import serializers as s
from lending.contracts.models import Contract, ContractSigner
from org.api.mixins import BankDataWritable
from org.tenancy import scope_queryset


class MayContract(BasePermission):
    """Reading needs 查看电子合同; rendering 新增电子合同; codes and signatures 修改电子合同;
    the PDF 可下载合同PDF (it names the parties in full)."""

    message = "没有办理电子合同的权限"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return request.user.has_perm(getattr(view, "read_permission", "lending.view_contract"))
        return request.user.has_perm(getattr(view, "write_permission", "lending.change_contract"))


def _contracts(user):
    return scope_queryset(
        Contract.objects.without_pdfs().select_related("template", "bank"), user
    ).prefetch_related("signers__member")


def _contract(request, pk) -> Contract:
    return get_object_or_404(_contracts(request.user), pk=pk)


def _application(request, pk) -> Application:
    return get_object_or_404(scope_queryset(Application.objects.all(), request.user), pk=pk)


def _member(contract: Contract, member_id):
    signer = (
        ContractSigner.objects.filter(contract=contract, member_id=member_id)
        .select_related("member")
        .first()
    )
    if signer is None:
        raise ValidationError({"member": "该成员不是本合同的签署方"})
    return signer.member


@extend_schema(tags=["lending"])
class ApplicationContractView(APIView):
    """The live contract of an application; POST renders it once the application is approved (a
    second POST returns the same contract, 200)."""

    permission_classes = [IsAuthenticated, MayContract, BankDataWritable]
    write_permission = "lending.add_contract"

    @extend_schema(operation_id="application_contract_read", responses={200: s.ContractSerializer})
    def get(self, request, pk):
        application = _application(request, pk)
        contract = _contracts(request.user).filter(application=application).live().first()
        if contract is None:
            raise NotFound("该申请尚未生成合同")
        return Response(s.ContractSerializer(contract).data)

    @extend_schema(
        operation_id="application_contract_render",
        request=None,
        responses={201: s.ContractSerializer, 200: s.ContractSerializer},
    )
    @idempotent(required=False)
    def post(self, request, pk):
        application = _application(request, pk)
        existing = _contracts(request.user).filter(application=application).live().first()
        if existing is not None:
            return Response(s.ContractSerializer(existing).data)
        with service_errors():
            contract = services.contract_render(application=application, actor=request.user)
        return Response(
            s.ContractSerializer(_contract(request, contract.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class PdfRenderer(BaseRenderer):
    """Lets a client that asks for ``Accept: application/pdf`` through content negotiation; the
    view answers the bytes itself, and an error body still goes out as JSON text."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, ensure_ascii=False).encode()


@extend_schema(tags=["lending"])
class ContractPdfView(APIView):
    """The contract PDF: the sealed file once every party has signed, the rendered one before."""

    permission_classes = [IsAuthenticated, MayContract, BankDataWritable]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, PdfRenderer]
    read_permission = "lending.download_contract"

    @extend_schema(
        operation_id="contract_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="合同PDF")
        },
    )
    def get(self, request, pk):
        contract = _contract(request, pk)
        signed, rendered = (
            Contract.objects.filter(pk=contract.pk).values_list("signed_pdf", "pdf").get()
        )
        response = HttpResponse(bytes(signed or rendered), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{contract.number}.pdf"'
        response["X-Content-SHA256"] = contract.signed_sha256 or contract.sha256
        response["Cache-Control"] = "no-store"
        return response


@extend_schema(tags=["lending"])
class SigningCodeView(APIView):
    """Text a signing code to the signer's registered phone (one a minute, valid 5 minutes)."""

    permission_classes = [IsAuthenticated, MayContract, BankDataWritable]
    write_permission = "lending.change_contract"

    @extend_schema(request=s.SigningCodeInput, responses={201: s.SigningCodeSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        contract = _contract(request, pk)  # another bank's contract: 404 before any body check
        data = s.SigningCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = _member(contract, data.validated_data["member"])
        with service_errors():
            code = services.signing_code_request(
                contract=contract, member=member, actor=request.user
            )
        body = {
            "member": member.pk,
            "phone": mask_phone(member.phone),
            "expires_at": code.expires_at,
        }
        return Response(s.SigningCodeSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["lending"])
class ContractSignView(APIView):
    """Sign with the texted code and the handwritten signature. Requires ``Idempotency-Key``."""

    permission_classes = [IsAuthenticated, MayContract, BankDataWritable]
    write_permission = "lending.change_contract"

    @extend_schema(request=s.SignInput, responses={200: s.ContractSerializer})
    @idempotent()
    def post(self, request, pk):
        contract = _contract(request, pk)  # another bank's contract: 404 before any body check
        data = s.SignInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            member = _member(contract, v["member"])
            with service_errors():
                services.contract_sign(
                    contract=contract,
                    member=member,
                    code=v["code"],
                    signature=v["signature"],
                    device_id=v["device_id"],
                    document_sha256=v["document_sha256"],
                    actor=request.user,
                )
        except ValidationError as refused:
            # Answered, not raised: the idempotency wrapper's transaction then commits the
            # wrong-code count the service wrote (a raised error would roll it back).
            return self.handle_exception(refused)
        return Response(s.ContractSerializer(_contract(request, pk)).data)
