from django.db import migrations


class Migration(migrations.Migration):
    """Tokens live in org.DeviceToken (KNOX_TOKEN_MODEL). knox's own migrations still create
    knox_authtoken, which nothing uses; its foreign key to auth_user would make every test flush
    (TRUNCATE) fail, so drop it."""

    dependencies = [
        ("org", "0001_initial"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS knox_authtoken", reverse_sql=migrations.RunSQL.noop),
    ]
