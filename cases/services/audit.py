"""Writing the audit log. Each service that enrols, moves, promotes, deactivates or
overrides calls `audit` in the same transaction as its change, so the log never shows a
change that did not happen, nor misses one that did."""

from cases.models import AuditEntry


def audit(
    actor,
    action: str,
    summary: str,
    *,
    subject=None,
    cohort=None,
    course=None,
    before=None,
    after=None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        summary=summary[:300],
        subject=subject,
        cohort=cohort,
        course=course,
        before=before,
        after=after,
    )


def audit_many(entries: list[AuditEntry]) -> None:
    """Many entries in one statement (a roster import's enrolments)."""
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
