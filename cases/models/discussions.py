from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models.courses import ModuleItem
from cases.models.readings import CaseStudy

# Replies nest this deep; deeper replies are shown flat under the last level.
MAX_DEPTH = 3


class Discussion(models.Model):
    """The discussion kind of module item: a prompt, optionally about one case."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="discussion")
    case = models.ForeignKey(
        CaseStudy, null=True, blank=True, on_delete=models.SET_NULL, related_name="discussions"
    )
    prompt = models.TextField(help_text="Markdown.")
    post_first = models.BooleanField(
        default=False, help_text="Students see classmates' posts only after their own first post."
    )
    anonymous = models.BooleanField(
        default=False, help_text="Names hidden from classmates; instructors and TAs see them."
    )
    locked = models.BooleanField(default=False)
    closes_at = models.DateTimeField(null=True, blank=True)
    first_post_due_at = models.DateTimeField(null=True, blank=True)
    replies_due_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change to the thread's posts: the cheap ETag that lets an idle
    # class's polling cost a 304.
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.item.title

    def get_absolute_url(self) -> str:
        return self.item.get_absolute_url()


class PostQuerySet(models.QuerySet):
    def visible(self) -> "PostQuerySet":
        """Posts a student may see: not hidden by a moderator (deleted ones stay, as
        "deleted", to keep replies in place)."""
        return self.filter(hidden_at__isnull=True)


class Post(models.Model):
    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    body = models.TextField()
    body_html = models.TextField()
    cited_paragraphs = models.JSONField(default=list, blank=True)
    citation_count = models.PositiveSmallIntegerField(default=0)
    # A token from the compose form: the same form submitted twice makes one post.
    nonce = models.CharField(max_length=40, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    upvote_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    endorsed = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=300, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["discussion", "created_at", "pk"]
        indexes = [models.Index(fields=["discussion", "author"])]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "nonce"], condition=~Q(nonce=""), name="post_nonce_once"
            )
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} by {self.author}"

    def get_absolute_url(self) -> str:
        """The post on the page of its thread that shows it (`?post=`), not page 1."""
        return f"{self.discussion.item.get_absolute_url()}?post={self.pk}#post-{self.pk}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    # What paging reads of a post, by the names of its key (services' `PostKey`).
    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def created(self):
        return self.created_at


class PostRevision(models.Model):
    """An earlier version of a post, kept when it is edited."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["post", "-created_at"]

    def __str__(self) -> str:
        return f"Revision of {self.post_id}"


class Upvote(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="upvotes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="upvote_once")]

    def __str__(self) -> str:
        return f"{self.user} +1 {self.post_id}"


class Follow(models.Model):
    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["discussion", "user"], name="follow_once")]

    def __str__(self) -> str:
        return f"{self.user} follows {self.discussion}"


class ParticipationGrade(models.Model):
    discussion = models.ForeignKey(
        Discussion, on_delete=models.CASCADE, related_name="participation_grades"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    points = models.DecimalField(max_digits=6, decimal_places=2)
    comment = models.TextField(blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    graded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["discussion", "user"], name="participation_once"),
            models.CheckConstraint(
                condition=Q(points__gte=0), name="participation_points_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.points}"
