import re

from django.db import migrations

# The word rule of `word_count` in cases/services/analyses.py as it stands at this
# migration, copied because a migration must not import code that changes later: a run
# of non-space characters with a letter or a digit in it, so Markdown's own marks
# (#, -, *, >) are not words.
WORD = re.compile(r"\S*[^\W_]\S*")
BATCH = 1000


def recount_words(apps, schema_editor):
    """Notes and replies counted their words by splitting on spaces, so a line of
    bullets or dashes counted toward an annotation assignment's minimum words, while a
    memo's words never did. Each note's stored `word_count` is counted again by the
    memo's rule, a batch at a time; `updated_at` is left alone (nothing a reader sees
    changed).

    Work rows of annotation assignments are not touched here (a migration does not run
    the work rules, which change): they catch up at the student's next note, reply or
    moderation, or at once with `manage.py work_resync --kind annotation`, which works
    every row out again and saves only those that changed. Run it after this migration.
    """
    Annotation = apps.get_model("cases", "Annotation")
    notes = Annotation.objects.order_by("pk").only("pk", "body", "word_count")
    changed = []
    for note in notes.iterator(chunk_size=BATCH):
        words = len(WORD.findall(note.body or ""))
        if words != note.word_count:
            note.word_count = words
            changed.append(note)
        if len(changed) >= BATCH:
            Annotation.objects.bulk_update(changed, ["word_count"])
            changed = []
    if changed:
        Annotation.objects.bulk_update(changed, ["word_count"])


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0036_held_release"),
    ]

    operations = [
        migrations.RunPython(recount_words, migrations.RunPython.noop, elidable=True),
    ]
