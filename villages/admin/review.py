"""Peer review rounds and their evaluators.

Staff open a round for a village, seat villagers on its panel (each gets a login holding the
peer-evaluator role only), set an evaluator's password if they will not use SMS codes, and
close rounds by hand. Single votes are never shown: a round shows how many votes each evaluator
has cast while it is open, and the results per household once it is closed.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from common.masking import mask_phone
from org.admin_mixins import (
    AuditHistoryMixin,
    TenantAdminMixin,
    add_service_errors,
    masked_column,
    run_per_row,
)
from org.services import password_check
from villages.admin.base import acting_staff
from villages.models import (
    Household,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
)
from villages.services.peer_review import (
    peer_review_evaluator_add,
    peer_review_evaluator_add_check,
    peer_review_evaluator_password_set,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_round_open_check,
)


class EvaluatorInline(admin.TabularInline):
    model = PeerReviewEvaluator
    fields = ["name", "kind", "masked_phone", "login_name", "votes_cast"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(n_votes=Count("votes"))
            .order_by("pk")
        )

    masked_phone = masked_column("手机号", "phone", mask_phone)

    @admin.display(description="登录名")
    def login_name(self, evaluator):
        return evaluator.user.username

    @admin.display(description="已投票户数")
    def votes_cast(self, evaluator):
        return evaluator.n_votes


class ResultInline(admin.TabularInline):
    """Results exist only once a round is closed, so votes stay hidden while it is open."""

    model = PeerReviewResult
    fields = [
        "household",
        "colour",
        "black_votes",
        "grey_votes",
        "green_votes",
        "white_votes",
        "suggested_amount",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("household__head")


class RoundOpenForm(forms.ModelForm):
    class Meta:
        model = PeerReviewRound
        fields = ["village", "title", "closes_on", "close_when_all_voted", "black_veto_count"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("village") and cleaned.get("black_veto_count") is not None:
            try:
                peer_review_round_open_check(
                    village=cleaned["village"],
                    title=cleaned.get("title") or "",
                    black_veto_count=cleaned["black_veto_count"],
                    closes_on=cleaned.get("closes_on"),
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return cleaned


@admin.register(PeerReviewRound)
class PeerReviewRoundAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "village",
        "status",
        "evaluator_count",
        "closes_on",
        "opened_at",
        "closed_at",
        "close_reason",
    ]
    list_filter = ["status"]
    list_select_related = ["village"]
    readonly_fields = [
        "title",
        "village",
        "status",
        "progress",
        "closes_on",
        "close_when_all_voted",
        "black_veto_count",
        "opened_by",
        "opened_at",
        "closed_by",
        "closed_at",
        "close_reason",
        "add_evaluator_link",
    ]
    inlines = [EvaluatorInline, ResultInline]
    actions = ["close_rounds"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_evaluators=Count("evaluators"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = RoundOpenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return RoundOpenForm.Meta.fields
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Votes and results are the record of what the village said; a round is closed, not
        # deleted.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = peer_review_round_open(
            village=obj.village,
            title=obj.title,
            opened_by=acting_staff(request),
            black_veto_count=obj.black_veto_count,
            closes_on=obj.closes_on,
            close_when_all_voted=obj.close_when_all_voted,
        )
        obj.pk, obj.bank_id, obj.opened_at = created.pk, created.bank_id, created.opened_at

    @admin.display(description="评议员人数")
    def evaluator_count(self, round):
        return round.n_evaluators

    @admin.display(description="投票进度")
    def progress(self, round):
        households = Household.objects.filter(village_id=round.village_id).count()
        needed = households * round.n_evaluators
        cast = round.votes.count()
        return (
            f"已投 {cast} 票 / 应投 {needed} 票（{round.n_evaluators} 位评议员 × {households} 户）"
        )

    @admin.display(description="评议员")
    def add_evaluator_link(self, round):
        if round.status != PeerReviewRound.Status.OPEN:
            return "评议已结束"
        url = reverse("admin:villages_peerreviewevaluator_add") + f"?round={round.pk}"
        return format_html('<a class="button" href="{}">添加评议员</a>', url)

    @admin.action(description="结束评议并汇总结果", permissions=["change"])
    def close_rounds(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset.filter(status=PeerReviewRound.Status.OPEN),
            lambda round: peer_review_round_close(round=round, closed_by=acting_staff(request)),
            "已结束评议并汇总结果：",
        )


class EvaluatorAddForm(forms.ModelForm):
    phone = forms.CharField(
        label="手机号", max_length=20, required=False, help_text="用于接收登录验证码"
    )
    username = forms.CharField(
        label="登录名",
        max_length=150,
        required=False,
        help_text="留空则自动生成(pr_评议编号_序号)；在本行社评议过的村民沿用原登录名",
    )
    password = forms.CharField(
        label="登录密码",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="不用短信验证码登录时设置；至少8位，不能全是数字",
    )

    class Meta:
        model = PeerReviewEvaluator
        fields = ["round", "name", "kind"]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("phone", "").strip() and not cleaned.get("password"):
            self.add_error("phone", "请填写手机号(接收验证码)或设置登录密码，评议员才能登录")
        if cleaned.get("round") and cleaned.get("kind") and not self.errors:
            try:
                peer_review_evaluator_add_check(
                    round=cleaned["round"],
                    name=cleaned.get("name") or "",
                    kind=cleaned["kind"],
                    phone=cleaned.get("phone", ""),
                    username=cleaned.get("username") or None,
                    password=cleaned.get("password") or None,
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return cleaned


class EvaluatorPasswordForm(forms.ModelForm):
    password = forms.CharField(
        label="设置新登录密码",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="留空则不修改；至少8位，不能全是数字",
    )

    class Meta:
        model = PeerReviewEvaluator
        fields: list[str] = []

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            try:
                password_check(password=password, user=self.instance.user)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["password"]) from None
        return password


@admin.register(PeerReviewEvaluator)
class PeerReviewEvaluatorAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "masked_phone", "login_name", "round", "added_at"]
    list_filter = ["kind", "round__status"]
    list_select_related = ["round", "user"]
    search_fields = ["name", "user__username"]
    change_readonly = ["round", "name", "kind", "masked_phone", "login_name"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = EvaluatorAddForm if obj is None else EvaluatorPasswordForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["round", "name", "kind", "phone", "username", "password"]
        return [*self.change_readonly, "password"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.change_readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "round":
            field.queryset = field.queryset.filter(status=PeerReviewRound.Status.OPEN)
        return field

    def has_delete_permission(self, request, obj=None):
        # Removing a villager would silently drop their votes from an open round.
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            if data.get("password"):
                peer_review_evaluator_password_set(evaluator=obj, password=data["password"])
            return
        created = peer_review_evaluator_add(
            round=data["round"],
            name=data["name"],
            kind=data["kind"],
            phone=data.get("phone", ""),
            username=data.get("username") or None,
            password=data.get("password") or None,
        )
        obj.pk, obj.user_id = created.pk, created.user_id

    masked_phone = masked_column("手机号", "phone", mask_phone)

    @admin.display(description="登录名")
    def login_name(self, evaluator):
        return evaluator.user.username
