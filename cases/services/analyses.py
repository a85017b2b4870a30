"""Written case analyses: writing a memo (drafts saved as the student types, handed in
as frozen versions) and what follows from it.

Every write to a student's memo locks their `Memo` row, so a draft save racing the
hand-in is applied before it or not at all, and a form posted twice makes one version.
The schedule that decides whether work is taken is the student's assignment as it
stands now (their extension applied), as for every kind.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.markdown import word_count
from cases.models import (
    MAX_MEMO_CHARS,
    Analysis,
    Assignment,
    AuditAction,
    Memo,
    MemoVersion,
    ModuleItem,
    PeerReview,
    assignment_for_student,
    refusal,
)
from cases.services.discussions import paragraph_numbers, render_post
from cases.services.notifications import handed_in_notify
from cases.services.people import audit
from cases.services.workspace.work import work_sync


class MemoRefused(Exception):
    """A save or a hand-in the rules refuse; the message is for the writer."""


def memo_html(body: str, analysis: Analysis) -> tuple[str, list[int]]:
    """A memo's Markdown as safe HTML, with each ¶N of the analysis's case linked to
    the paragraph (hover shows it), and the paragraphs it cites."""
    return render_post(body, analysis.case, paragraph_numbers(analysis.case))


def _check_length(body: str) -> None:
    if len(body) > MAX_MEMO_CHARS:
        raise MemoRefused(
            f"A memo is limited to {MAX_MEMO_CHARS:,} characters; this one has {len(body):,}. "
            "Nothing was saved: shorten it, or keep a copy of what you wrote."
        )


def work_closed(assignment: Assignment | None, now) -> str | None:
    """Why the student may not write or hand in now, or None if they may."""
    if assignment is None:
        return "This analysis is not given to you."
    return refusal(assignment, now)


def changes_closed(
    assignment: Assignment | None, *, handed_in: bool, under_review: bool, now
) -> str | None:
    """Why a student who may hand in work may not hand in another version, or None if
    they may: once handed in, nothing changes after their due date, nor once
    classmates were given the memo to review (an extension or a due date moved later
    does not unpin what the reviewers read). The writing page and the hand-in both
    ask this."""
    if not handed_in:
        return None
    if under_review:
        return "Classmates have been given your memo to review, so it can no longer be changed."
    if assignment is not None and assignment.is_past_due(now):
        return "Handed in; the due date has passed, so it can no longer be changed."
    return None


def memo_row(item: ModuleItem, user) -> Memo:
    """The student's memo row, made once however many requests ask at once."""
    try:
        with transaction.atomic():
            memo, _ = Memo.objects.get_or_create(item=item, author=user)
    except IntegrityError:
        memo = Memo.objects.get(item=item, author=user)
    return memo


@dataclass
class DraftSaved:
    saved: bool  # False: a newer save had already arrived.
    words: int
    saved_at: object


def draft_save(*, item: ModuleItem, user, body: str, seq: int | None, now=None) -> DraftSaved:
    """Keep what the student is writing. A save carrying a sequence number older than
    the stored one is ignored, so a delayed request never overwrites newer text.
    Refused once the assignment stops taking work (the page keeps the text)."""
    now = now or timezone.now()
    body = (body or "").replace("\r\n", "\n")
    _check_length(body)
    if reason := work_closed(assignment_for_student(item.pk, user), now):
        raise MemoRefused(reason)
    seq = seq if seq is not None else int(now.timestamp() * 1000)
    changes = {"draft": body, "draft_seq": seq, "draft_saved_at": now}
    mine = Memo.objects.filter(item=item, author=user)
    saved = mine.filter(draft_seq__lt=seq).update(**changes)
    if not saved and not mine.exists():
        memo = memo_row(item, user)
        saved = Memo.objects.filter(pk=memo.pk, draft_seq__lt=seq).update(**changes)
        work_sync(item, [user.pk])  # A first draft: the work is in progress.
    return DraftSaved(bool(saved), word_count(body), now)


@dataclass
class HandIn:
    """A hand-in under way: the student's memo, locked; the version the same form made
    already, if it did; and the last version before this one."""

    memo: Memo
    same: MemoVersion | None = None
    last: MemoVersion | None = None

    @property
    def number(self) -> int:
        """The number the new version takes."""
        return (self.last.number if self.last else 0) + 1


def hand_in_begin(item: ModuleItem, user, nonce: str, now) -> HandIn:
    """Lock the student's memo for a hand-in (text or file; inside the caller's
    transaction), find the version this form made already, and check that the schedule
    as it stands takes the work: once handed in, nothing changes after the due date."""
    memo = memo_row(item, user)
    memo = Memo.objects.select_for_update().get(pk=memo.pk)
    memo.item = item  # The receipt and the audit name it.
    if nonce and (same := memo.versions.filter(nonce=nonce).first()):
        return HandIn(memo, same=same)
    last = memo.versions.order_by("-number").first()
    assignment = assignment_for_student(item.pk, user)
    if reason := work_closed(assignment, now):
        raise MemoRefused(reason)
    under_review = (
        last is not None
        and PeerReview.objects.filter(item=item, author=user, item__analysis__peer_review=True)
        .order_by()
        .exists()
    )
    if reason := changes_closed(
        assignment, handed_in=last is not None, under_review=under_review, now=now
    ):
        raise MemoRefused(reason)
    return HandIn(memo, last=last)


@transaction.atomic
def memo_submit(*, item: ModuleItem, user, body: str, nonce: str = "", now=None) -> MemoVersion:
    """Hand in the text as a new version of the student's memo (the caller keeps it as
    their draft first, with `draft_save`, so a refusal loses nothing). Idempotent per
    form (nonce) and text: the same form sent again with other text hands that in; and
    handing in the same text as the last version makes no new one.
    Before the due date a student may hand in again, each version kept; after it, only
    a first hand-in is taken (as the late policy allows)."""
    now = now or timezone.now()
    analysis = Analysis.objects.select_related("case").get(item=item)
    body = (body or "").replace("\r\n", "\n").strip()
    _check_length(body)
    nonce = (nonce or "")[:40]
    begun = hand_in_begin(item, user, nonce, now)
    if begun.same is not None:
        if not begun.same.is_file and begun.same.body == body:
            return begun.same
        # The form that made it, sent again with other text (Back to it, then edited):
        # a hand-in of its own, under the rules, that keeps no nonce (it was used).
        begun, nonce = hand_in_begin(item, user, "", now), ""
    memo, last = begun.memo, begun.last
    if not body:
        raise MemoRefused("Write your analysis before handing it in.")
    words = word_count(body)
    if words > analysis.word_limit:
        raise MemoRefused(
            f"Your analysis has {words:,} words; the limit is {analysis.word_limit:,}. "
            f"Cut {words - analysis.word_limit:,} and hand it in again."
        )
    if last is not None and not last.is_file and last.body == body:
        return last
    html, cited = memo_html(body, analysis)
    version = MemoVersion.objects.create(
        memo=memo,
        number=begun.number,
        body=body,
        body_html=html,
        word_count=words,
        cited_paragraphs=cited,
        submitted_at=now,
        nonce=nonce,
    )
    work_sync(item, [user.pk])
    memo_handed_in(version)
    return version


def memo_handed_in(version: MemoVersion) -> None:
    """What follows a new version, in its transaction: the student's receipt (emailed
    once it commits) and the audit log's entry."""
    memo = version.memo
    what = f"file {version.file_name}" if version.is_file else f"{version.word_count:,} words"
    audit(
        memo.author,
        AuditAction.HAND_IN,
        f"Handed in version {version.number} of “{memo.item.title}” ({what})",
        subject=memo.author,
        course=memo.item.module.course,
        after={"version": version.number, "words": version.word_count, "file": version.file_name},
    )
    handed_in_notify(version)


def memo_of(item: ModuleItem, user) -> Memo | None:
    """The student's memo on the item with its versions, newest first: two queries."""
    memo = Memo.objects.filter(item=item, author=user).first()
    if memo is not None:
        memo.shown_versions = list(memo.versions.order_by("-number"))
    return memo
