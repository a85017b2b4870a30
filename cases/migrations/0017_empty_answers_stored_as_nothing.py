from django.db import migrations


def empty_as_nothing(apps, schema_editor):
    """Before autosave stored an untouched multiple-choice question as {}, it stored
    {"choices": []}: make those {} too, so "answered" is `response != {}`."""
    Answer = apps.get_model("cases", "Answer")
    Answer.objects.filter(response={"choices": []}).update(response={})


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0016_work_state_labels"),
    ]

    operations = [
        migrations.RunPython(empty_as_nothing, migrations.RunPython.noop),
    ]
