from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built concurrently: a province's member table takes minutes to index, and imports and
    # decisions keep writing to it meanwhile.
    atomic = False

    dependencies = [
        ("org", "0004_staff_must_change_password_login_lockout"),
        ("villages", "0009_packed_personal_data"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="member",
            index=models.Index(
                condition=models.Q(("phone_hash", b""), _negated=True),
                fields=["bank", "phone_hash"],
                name="member_phone_per_bank",
            ),
        ),
    ]
