"""Household scores kept lean for million-row batch writes (see ``HouseholdScore``): feature
values as a float array in the points table's order (feature names sorted), reason codes as
``[[feature, bin_index], …]`` rendered on display, foreign keys not enforced by PostgreSQL, and
indexes that each lead with what a screen filters on. Existing rows are converted in place."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('org', '0002_drop_unused_knox_table'),
        ('risk', '0002_scorecard_lifecycle_and_training'),
        ('villages', '0002_importjob'),
    ]

    operations = [
        migrations.AddField(
            model_name='householdscore',
            name='feature_values',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(null=True), blank=True, default=list, size=None, verbose_name='特征取值'),
        ),
        migrations.RunSQL(
            sql="""
            UPDATE risk_householdscore s SET
                feature_values = coalesce((
                    SELECT array_agg(CASE WHEN jsonb_typeof(value) = 'number'
                                          THEN (value #>> '{}')::float8 END
                                     ORDER BY key COLLATE "C")
                    FROM jsonb_each(s.features)), '{}'),
                reason_codes = coalesce((
                    SELECT jsonb_agg(jsonb_build_array(r ->> 'feature', coalesce(b.bin_index, -1))
                                     ORDER BY e.n)
                    FROM jsonb_array_elements(s.reason_codes) WITH ORDINALITY AS e(r, n)
                    LEFT JOIN risk_scorecardbin b ON b.scorecard_id = s.scorecard_id
                        AND b.feature = r ->> 'feature' AND b.label = r ->> 'bin'), '[]')
            WHERE jsonb_typeof(s.features) = 'object'
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RemoveField(
            model_name='householdscore',
            name='features',
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='bank',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='org.institution', verbose_name='法人行社'),
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='household',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='scores', to='villages.household', verbose_name='农户'),
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='job',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='scores', to='risk.scoringjob', verbose_name='批量任务'),
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='reason_codes',
            field=models.JSONField(blank=True, default=list, verbose_name='原因码'),
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='scorecard',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='scores', to='risk.scorecard', verbose_name='评分卡'),
        ),
        migrations.AlterField(
            model_name='householdscore',
            name='scored_at',
            field=models.DateTimeField(verbose_name='评分时间'),
        ),
        migrations.AddIndex(
            model_name='householdscore',
            index=models.Index(fields=['bank', '-scored_at'], name='score_bank_latest'),
        ),
        migrations.AddIndex(
            model_name='householdscore',
            index=models.Index(fields=['scorecard', '-scored_at'], name='score_scorecard_latest'),
        ),
    ]
