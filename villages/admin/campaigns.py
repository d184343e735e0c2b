"""Whole-village credit campaigns with their progress counts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from common.errors import describe_error
from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin, add_service_errors, run_per_row
from villages.models import (
    Campaign,
    EconomicArchive,
    Household,
    PeerReviewResult,
    PeerReviewRound,
)
from villages.selectors import village_progress
from villages.services import (
    campaign_create,
    campaign_create_check,
    campaign_transition,
    campaign_update,
    campaign_update_check,
)
from villages.services.campaigns import campaign_delete, campaign_delete_check


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["village", "name", "starts_on", "ends_on", "lead"]

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on, lead = (cleaned.get(n) for n in ("starts_on", "ends_on", "lead"))
        if not (starts_on and ends_on):
            return cleaned
        try:
            if self.instance._state.adding:
                if cleaned.get("village"):
                    campaign_create_check(
                        village=cleaned["village"], starts_on=starts_on, ends_on=ends_on, lead=lead
                    )
            else:
                campaign_update_check(
                    campaign=self.instance, starts_on=starts_on, ends_on=ends_on, lead=lead
                )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "village",
        "status",
        "starts_on",
        "ends_on",
        "households",
        "archived",
        "reviewed",
        "rated",
        "pre_approved",
        "coverage",
    ]
    list_filter = ["status"]
    list_select_related = ["village"]
    autocomplete_fields = ["village", "lead"]
    actions = ["start", "complete", "cancel", "delete_selected"]

    def get_queryset(self, request):
        def count(filter_q: Q):
            return Coalesce(
                Subquery(
                    Household.objects.filter(filter_q, village=OuterRef("village"))
                    .order_by()
                    .values("village")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            )

        return (
            super()
            .get_queryset(request)
            .annotate(
                n_households=count(Q()),
                n_archived=count(
                    Q(Exists(EconomicArchive.objects.filter(household=OuterRef("pk"))))
                ),
                n_reviewed=count(
                    Q(
                        Exists(
                            PeerReviewResult.objects.filter(
                                household=OuterRef("pk"),
                                round__status=PeerReviewRound.Status.CLOSED,
                            )
                        )
                    )
                ),
                n_rated=count(~Q(credit_grade="")),
                n_pre_approved=count(Q(pre_approved_limit__isnull=False)),
            )
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return CampaignForm.Meta.fields
        return ["village", "name", "status", "starts_on", "ends_on", "lead", "progress"]

    def get_readonly_fields(self, request, obj=None):
        return ["village", "status", "progress"] if obj else []

    @admin.display(description="整村授信进度")
    def progress(self, campaign):
        """The village's progress today, step by step, as the campaign's lead reads it."""
        figures = village_progress([campaign.village_id]).get(campaign.village_id)
        if figures is None or not figures.households:
            return "该村尚无农户"
        steps = [
            ("已建档", figures.archived),
            ("已评议", figures.reviewed),
            ("已评级", figures.rated),
            ("已预授信", figures.pre_approved),
        ]
        rows = format_html_join(
            "",
            '<tr><th style="padding-right:1em">{}</th><td style="text-align:right">{} / {} 户</td>'
            '<td><span class="campaign-bar" style="display:inline-block;width:200px;height:10px;'
            'background:#eee"><span style="display:block;height:10px;width:{}px;'
            'background:#417690"></span></span> {}%</td></tr>',
            (
                (
                    label,
                    done,
                    figures.households,
                    round(200 * done / figures.households),
                    f"{done * 100 / figures.households:.1f}",
                )
                for label, done in steps
            ),
        )
        return format_html(
            '<table class="campaign-progress">{}</table><p>授信覆盖率 <strong>{}%</strong>'
            "（已预授信户数 ÷ 农户数）</p>",
            rows,
            figures.coverage_percent,
        )

    @admin.display(description="户数", ordering="n_households")
    def households(self, campaign):
        return campaign.n_households

    @admin.display(description="已建档", ordering="n_archived")
    def archived(self, campaign):
        return campaign.n_archived

    @admin.display(description="已评议", ordering="n_reviewed")
    def reviewed(self, campaign):
        return campaign.n_reviewed

    @admin.display(description="已评级", ordering="n_rated")
    def rated(self, campaign):
        return campaign.n_rated

    @admin.display(description="已预授信", ordering="n_pre_approved")
    def pre_approved(self, campaign):
        return campaign.n_pre_approved

    @admin.display(description="授信覆盖率")
    def coverage(self, campaign):
        if not campaign.n_households:
            return "—"
        return f"{campaign.n_pre_approved * 100 / campaign.n_households:.1f}%"

    def save_model(self, request, obj, form, change):
        if change:
            campaign_update(
                campaign=obj,
                name=obj.name,
                starts_on=obj.starts_on,
                ends_on=obj.ends_on,
                lead=obj.lead,
            )
            return
        created = campaign_create(
            village=obj.village,
            name=obj.name,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            lead=obj.lead,
        )
        obj.pk, obj.bank_id = created.pk, created.bank_id

    # Deleting goes through campaign_delete: an in-progress campaign is refused with the reason,
    # on the delete page, in the bulk action, and anywhere a service deletes.
    def delete_view(self, request, object_id, extra_context=None):
        campaign = self.get_object(request, unquote(object_id))
        if campaign is not None and request.method in ("GET", "POST"):
            try:
                campaign_delete_check(campaign=campaign)
            except ValidationError as exc:
                self.message_user(request, describe_error(exc, model=Campaign), messages.ERROR)
                url = reverse("admin:villages_campaign_change", args=[campaign.pk])
                return HttpResponseRedirect(url)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        campaign_delete(campaign=obj)

    def delete_queryset(self, request, queryset):
        for campaign in queryset:
            campaign_delete(campaign=campaign)

    @admin.action(description="删除所选的 整村授信活动", permissions=["delete"])
    def delete_selected(self, request, queryset):
        refused = []
        for campaign in queryset:
            try:
                campaign_delete_check(campaign=campaign)
            except ValidationError as exc:
                refused.append(describe_error(exc, model=Campaign))
        if refused:
            # Nothing is deleted when any selected campaign may not be: the confirmation page
            # would otherwise promise a count it does not delete.
            for reason in refused:
                self.message_user(request, reason, messages.ERROR)
            return None
        return django_delete_selected(self, request, queryset)

    def _move(self, request, queryset, to_status, done: str):
        run_per_row(
            self,
            request,
            queryset,
            lambda campaign: campaign_transition(campaign=campaign, to_status=to_status),
            done,
        )

    @admin.action(description="开始所选活动")
    def start(self, request, queryset):
        self._move(request, queryset, Campaign.Status.IN_PROGRESS, "已开始")

    @admin.action(description="完成所选活动")
    def complete(self, request, queryset):
        self._move(request, queryset, Campaign.Status.COMPLETED, "已完成")

    @admin.action(description="取消所选活动")
    def cancel(self, request, queryset):
        self._move(request, queryset, Campaign.Status.CANCELLED, "已取消")
