"""Scorecard back office: points table, metrics, PSI chart, xlsx, comparison, lifecycle actions
with maker-checker, training runs, tenancy and flat query counts."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook

from risk.models import (
    HouseholdScore,
    MonitoringRun,
    Scorecard,
    ScorecardBin,
    ScorecardTraining,
    ScoringSegment,
)
from risk.registry import scorecard_promote, scorecard_submit
from risk.scoring import clear_cache, score_household
from tests.risk.model_setup import trained

CHANGELIST = "/admin/risk/scorecard/"


@pytest.fixture
def client_for(staff):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(staff[username].user)
        return client

    return make


@pytest.fixture
def champion(register, staff):
    clear_cache()
    modeller = staff["fed_modeller"]
    scorecard = register(trained_by=modeller)
    scorecard_submit(scorecard=scorecard, actor=modeller.user)
    return scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)


@pytest.fixture
def challenger(register, staff, champion):
    modeller = staff["fed_modeller"]
    scorecard = register(trained_by=modeller, result=trained(seed=8, max_bins=5)[1])
    return scorecard_submit(scorecard=scorecard, actor=modeller.user, shadow_percent=100)


def test_changelist_shows_federation_and_own_models_only(register, staff, client_for):
    register(name="省联社模型")
    register(name="尧都自建模型", bank=staff["b1_risk"].bank)
    register(name="襄汾自建模型", bank=staff["b2_risk"].bank)
    federation = client_for("fed_admin").get(CHANGELIST).content.decode()
    assert "省联社模型" in federation
    assert "襄汾自建模型" in federation
    bank1 = client_for("b1_risk").get(CHANGELIST).content.decode()
    assert "省联社模型" in bank1
    assert "尧都自建模型" in bank1
    assert "襄汾自建模型" not in bank1


def test_other_banks_scorecard_is_404(register, staff, client_for):
    foreign = register(bank=staff["b2_risk"].bank)
    client = client_for("b1_risk")
    assert client.get(f"{CHANGELIST}{foreign.pk}/change/").status_code == 404
    assert client.get(f"{CHANGELIST}{foreign.pk}/points.xlsx").status_code == 404
    assert client.get(f"{CHANGELIST}{foreign.pk}/compare/").status_code == 404


def test_changelist_query_count_is_flat(register, staff, client_for, django_assert_max_num_queries):
    client = client_for("fed_admin")
    register()
    client.get(CHANGELIST)
    with django_assert_max_num_queries(40) as before:
        assert client.get(CHANGELIST).status_code == 200
    for _ in range(4):
        register(trained_by=staff["fed_modeller"])
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get(CHANGELIST)


def test_champion_page_shows_bins_points_metrics_and_psi_chart(champion, client_for):
    now = timezone.now()
    for day, psi, band in [(3, 0.04, "stable"), (2, 0.14, "watch"), (1, 0.31, "act")]:
        MonitoringRun.objects.create(
            scorecard=champion,
            computed_at=now - timezone.timedelta(days=day),
            sample_size=500,
            score_psi=psi,
            band=band,
            feature_psi={"debt_ratio": 0.2, "net_income": 0.05},
        )
    page = client_for("b1_risk").get(f"{CHANGELIST}{champion.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    _, result = trained()
    assert "家庭净收入(元/年)" in text
    assert "资产负债率" in text
    first = ScorecardBin.objects.filter(scorecard=champion).order_by("feature", "bin_index").first()
    assert escape(first.label) in text
    assert str(result.metrics["test"]["auc"]) in text
    assert len(re.findall(r'class="psi-bar"', text)) == 3
    chart = text[text.index('class="psi-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert "<svg" in chart
    assert "<script" not in chart
    assert "http" not in chart.replace("http://www.w3.org/2000/svg", "")
    assert "#c93c37" in text  # the last run is in the "act" band
    assert "晋级" in text  # status change log


def test_points_table_exports_to_xlsx(champion, client_for):
    response = client_for("fed_admin").get(f"{CHANGELIST}{champion.pk}/points.xlsx")
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r and r[0] == "特征"))
    bins = rows[header + 1 :]
    assert len(bins) == ScorecardBin.objects.filter(scorecard=champion).count()
    assert {r[0] for r in bins} == set(champion.metrics["features"])


def test_exported_text_that_excel_would_run_is_written_as_text(champion, client_for):
    """Bin labels and categories come from training data: one that starts like a formula is
    neutralised in the produced workbook, never stored as a formula."""
    first = ScorecardBin.objects.filter(scorecard=champion).order_by("feature", "bin_index")[0]
    ScorecardBin.objects.filter(pk=first.pk).update(
        label='=HYPERLINK("http://x","y")', categories=["@SUM(1)", "-1"]
    )

    response = client_for("fed_admin").get(f"{CHANGELIST}{champion.pk}/points.xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    row = next(r for r in sheet.iter_rows() if r[0].value == first.feature and r[2].value == 0)
    label, categories = row[4], row[7]
    assert (label.value, label.data_type) == ('\'=HYPERLINK("http://x","y")', "s")
    assert (categories.value, categories.data_type) == ("'@SUM(1), -1", "s")
    assert not [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert row[5].value is None or isinstance(row[5].value, float)  # numbers stay numbers


def test_export_action_puts_each_selected_scorecard_on_a_sheet(champion, challenger, client_for):
    response = client_for("fed_admin").post(
        CHANGELIST,
        {"action": "export_action", "_selected_action": [champion.pk, challenger.pk]},
    )
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["farmer-v1", "farmer-v2"]


def test_comparison_pairs_the_same_households(champion, challenger, villages, client_for):
    for household in villages["v1_households"] + villages["v2_households"]:
        score_household(household=household)
    assert HouseholdScore.objects.filter(role="challenger").count() == 6
    for username, expected in (("fed_admin", 6), ("b1_risk", 3)):
        text = client_for(username).get(f"{CHANGELIST}{challenger.pk}/compare/").content.decode()
        assert f"共 <strong>{expected}</strong> 户" in text
        assert "评级一致率" in text
    from_champion = client_for("fed_admin").get(f"{CHANGELIST}{champion.pk}/compare/")
    assert "共 <strong>6</strong> 户" in from_champion.content.decode()


def test_promote_action_enforces_maker_checker(register, staff, client_for):
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    post = {"action": "promote_action", "_selected_action": [scorecard.pk], "reason": ""}
    response = client_for("fed_modeller").post(CHANGELIST, post, follow=True)
    assert "双人复核" in response.content.decode()
    assert Scorecard.objects.get(pk=scorecard.pk).status == Scorecard.Status.CHALLENGER
    response = client_for("fed_admin").post(CHANGELIST, post, follow=True)
    assert "已晋级为冠军 1 项" in response.content.decode()
    assert Scorecard.objects.get(pk=scorecard.pk).status == Scorecard.Status.CHAMPION


def test_retire_action_needs_a_reason(register, client_for):
    draft = register()
    client = client_for("fed_modeller")
    post = {"action": "retire_action", "_selected_action": [draft.pk], "reason": ""}
    page = client.post(CHANGELIST, post, follow=True).content.decode()
    assert f"{draft}：请填写退役原因" in page  # the service's own words, no parameter name
    client.post(CHANGELIST, {**post, "reason": "试验结束"})
    assert Scorecard.objects.get(pk=draft.pk).status == Scorecard.Status.RETIRED


def test_refused_action_names_the_field_in_chinese(register, client_for):
    draft = register()
    client = client_for("fed_modeller")
    post = {"action": "retire_action", "_selected_action": [draft.pk], "reason": "试验结束"}
    client.post(CHANGELIST, post)
    page = client.post(CHANGELIST, post, follow=True).content.decode()
    assert "状态：该评分卡已退役" in page
    assert "status：" not in page


def test_draft_grade_cutoffs_are_edited_in_the_form(register, client_for):
    draft = register()
    response = client_for("fed_modeller").post(
        f"{CHANGELIST}{draft.pk}/change/",
        {
            "grade_cutoffs_text": '[["优", 640], ["良", 600], ["差", 0]]',
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.grade_cutoffs == [["优", 640], ["良", 600], ["差", 0]]


def test_bad_grade_cutoffs_are_refused_on_the_form(register, client_for):
    draft = register()
    before = draft.grade_cutoffs
    response = client_for("fed_modeller").post(
        f"{CHANGELIST}{draft.pk}/change/",
        {
            "grade_cutoffs_text": '[["良", 600], ["优", 640]]',
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 200  # the form again, not "changed successfully"
    assert response.context["adminform"].form.errors["grade_cutoffs_text"] == [
        "分数线须从高到低排列(最好的评级在前)"
    ]
    draft.refresh_from_db()
    assert draft.grade_cutoffs == before


def test_saving_a_champion_page_changes_nothing_and_raises_no_error(champion, client_for):
    response = client_for("fed_admin").post(
        f"{CHANGELIST}{champion.pk}/change/",
        {"status_changes-TOTAL_FORMS": "0", "status_changes-INITIAL_FORMS": "2"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert not any("只有草稿" in m for m in shown), shown
    assert Scorecard.objects.get(pk=champion.pk).status == Scorecard.Status.CHAMPION


def test_training_is_started_from_the_admin(
    staff, client_for, media, django_capture_on_commit_callbacks
):
    segment = ScoringSegment.objects.get(code="farmer", bank=None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("fed_modeller").post(
            "/admin/risk/scorecardtraining/add/",
            {
                "segment": segment.pk,
                "bank": "",
                "source": "synthetic",
                "synthetic_rows": "800",
                "base_score": "600",
                "base_odds": "50",
                "pdo": "20",
                "random_seed": "7",
                "target": "bad",
            },
        )
    assert response.status_code == 302
    training = ScorecardTraining.objects.get()
    assert training.status == ScorecardTraining.Status.DONE, training.error
    assert training.scorecard.trained_by == staff["fed_modeller"]
    page = client_for("fed_modeller").get("/admin/risk/scorecardtraining/").content.decode()
    assert "<progress" in page
    assert "100%" in page


def test_a_training_request_with_too_few_rows_is_refused_beside_the_field(client_for):
    segment = ScoringSegment.objects.get(code="farmer", bank=None)
    response = client_for("fed_modeller").post(
        "/admin/risk/scorecardtraining/add/",
        {
            "segment": segment.pk,
            "bank": "",
            "source": "synthetic",
            "synthetic_rows": "50",
            "base_score": "600",
            "base_odds": "50",
            "pdo": "20",
            "random_seed": "7",
            "target": "bad",
        },
    )
    assert response.status_code == 200  # the form again, what was typed kept
    form = response.context["adminform"].form
    assert form.errors["synthetic_rows"][0].startswith("合成样本数应在 200 到")
    assert form["synthetic_rows"].value() == "50"
    assert not ScorecardTraining.objects.exists()


@pytest.mark.parametrize("username", ["fed_admin", "b1_risk", "b1_am1"])
def test_every_risk_page_opens(champion, villages, client_for, username):
    score_household(household=villages["v1_households"][0])
    client = client_for(username)
    for page in (
        "scorecard",
        "scorecardtraining",
        "householdscore",
        "scoringjob",
        "monitoringrun",
        "scoringsegment",
    ):
        response = client.get(f"/admin/risk/{page}/")
        opens = username != "b1_am1" or page in ("scorecard", "householdscore")
        assert response.status_code == (200 if opens else 403), page
    score = HouseholdScore.objects.filter(role="champion").first()
    response = client.get(f"/admin/risk/householdscore/{score.pk}/change/")
    if username == "b1_am1":  # serves no village: another's household is not there at all
        assert response.status_code == 404
    else:
        detail = response.content.decode()
        for reason in score.reasons():  # the Chinese reason texts, not the stored codes
            assert escape(reason["text"]) in detail
        assert "评分所用特征取值" in detail
        assert "参考额度" not in detail  # amounts are the decision engine's, not a score's
    history = client.get(f"{CHANGELIST}{champion.pk}/history/")
    assert history.status_code == 200
    assert "变更历史" in history.content.decode()


def test_score_list_is_newest_first_and_filters_by_the_scorecards_grades(
    champion, villages, client_for
):
    first, second = villages["v1_households"][:2]
    older = score_household(household=first)
    newer = score_household(household=second)
    client = client_for("fed_admin")
    page = client.get("/admin/risk/householdscore/")
    assert [s.pk for s in page.context["cl"].result_list][:2] == [newer.pk, older.pk]
    grade_filter = next(f for f in page.context["cl"].filter_specs if f.title == "评级")
    offered = [value for value, _ in grade_filter.lookup_choices]
    assert offered == [grade for grade, _ in champion.grade_cutoffs]  # best first
    filtered = client.get("/admin/risk/householdscore/", {"grade": older.grade})
    shown = filtered.context["cl"].result_list
    assert {s.grade for s in shown} == {older.grade}
