import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_case_clashes(apps, schema_editor):
    """Usernames must be unique in any case from here on. Accounts made before this rule
    (a roster import or an invitation could make "ann" beside "Ann") are not merged or
    renamed here: whose work is whose is a person's decision. If any exist, stop with
    their names, before the constraint fails with a bare database error."""
    User = apps.get_model("cases", "User")
    folded = User.objects.annotate(folded=Lower("username"))
    clashing = folded.values("folded").annotate(n=Count("pk")).filter(n__gt=1).values("folded")
    names = list(
        folded.filter(folded__in=clashing).order_by("folded", "pk").values_list("username", flat=True)
    )
    if names:
        raise RuntimeError(
            "Usernames must now be unique in any case, and these accounts' usernames differ "
            f"only in case: {', '.join(names)}. Rename all but one of each group (in the "
            "Django admin, before this migration) and migrate again; nothing was changed."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("cases", "0037_annotation_words_as_memos_count"),
    ]

    operations = [
        migrations.RunPython(refuse_case_clashes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="user_username_case_insensitive_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ),
    ]
