import re

from django.db import migrations

# The word rule of `word_count` in cases/markdown.py as it stands at this migration,
# copied because a migration must not import code that changes later: a run of
# non-space characters with a letter or a digit in it, so Markdown's own marks
# (#, -, *, >) are not words.
WORD = re.compile(r"\S*[^\W_]\S*")
BATCH = 1000


def recount_words(apps, schema_editor):
    """Posts counted their words by splitting on spaces, so a line of dashes or a
    bullet counted on the participation page and in the work panel, where a memo's and
    a note's words never did. Each post's stored `word_count` is counted again by the
    memo's rule, a batch at a time; nothing else about the post changes (no Work reads
    a post's words)."""
    Post = apps.get_model("cases", "Post")
    posts = Post.objects.order_by("pk").only("pk", "body", "word_count")
    changed = []
    for post in posts.iterator(chunk_size=BATCH):
        words = len(WORD.findall(post.body or ""))
        if words != post.word_count:
            post.word_count = words
            changed.append(post)
        if len(changed) >= BATCH:
            Post.objects.bulk_update(changed, ["word_count"])
            changed = []
    if changed:
        Post.objects.bulk_update(changed, ["word_count"])


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0038_username_case_insensitive_unique"),
    ]

    operations = [
        migrations.RunPython(recount_words, migrations.RunPython.noop, elidable=True),
    ]
