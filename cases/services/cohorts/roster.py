"""Bulk enrolment from a CSV roster: all rows or none.

`roster_plan` reads the file (UTF-8, with or without a byte-order mark; comma or
semicolon; a header naming email, first_name, last_name and student_id) and says, row by
row, what would happen: a new account created, an existing one updated or enrolled, or
nothing to do. Any bad row (a missing or malformed email, a duplicate in the file, a
student number that belongs to someone else, an account that teaches one of the
cohort's courses or is a student in another current section of one
(`enrolment_conflicts`), more than MAX_ROWS rows, text that is not UTF-8 or holds NUL
bytes) is listed with its line number, and then `roster_apply`
imports nothing. `roster_apply` plans again inside one transaction, under a lock on the
cohort, and writes every account, membership and audit entry or none of them.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower

from cases.models import AuditAction, AuditEntry, Cohort, Invitation, Membership, User
from cases.permissions import enrolment_conflicts
from cases.services.cohorts import work_sync_new_members
from cases.services.cohorts.invitations import free_usernames, invitations_send
from cases.services.people import audit, audit_many

MAX_ROWS = 5000
COLUMNS = ["email", "first_name", "last_name", "student_id"]
NAME_MAX = 150
STUDENT_ID_MAX = 40


class RosterInvalid(Exception):
    def __init__(self, plan: "RosterPlan"):
        super().__init__(f"{len(plan.errors)} bad rows")
        self.plan = plan


@dataclass
class RosterRow:
    line: int
    email: str
    first_name: str
    last_name: str
    student_id: str
    action: str = ""  # "create", "update" or "skip"
    user: User | None = None
    changes: list[str] = field(default_factory=list)  # What an update changes, in words.
    # What the admin should know that the import does not change, in words.
    warning: str = ""
    # An existing account that never chose a password and was never sent an
    # invitation (imported before without one): an import that invites invites it too.
    uninvited: bool = False


@dataclass
class RosterError:
    line: int  # 0: the file as a whole.
    reason: str


@dataclass
class RosterPlan:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RosterError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def of(self, action: str) -> list[RosterRow]:
        return [row for row in self.rows if row.action == action]

    @property
    def counts(self) -> dict[str, int]:
        return {action: len(self.of(action)) for action in ("create", "update", "skip")}


# Reading the file ------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str | None, RosterError | None]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, RosterError(
            line,
            "The file is not UTF-8 text (the first bad character is on this line). "
            "Save it as “CSV UTF-8” and upload it again.",
        )
    if "\0" in text:  # A UTF-16 or binary file: no text column stores NUL.
        line = text.count("\n", 0, text.index("\0")) + 1
        return None, RosterError(
            line,
            "The file contains NUL bytes (the first is on this line), so it is not plain "
            "text. Save it as “CSV UTF-8” and upload it again.",
        )
    return text, None


def _header(cells: list[str]) -> list[str]:
    return [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in cells]


def roster_read(data: bytes) -> tuple[list[RosterRow], list[RosterError]]:
    """The rows of a roster file, checked one by one (not yet against the database)."""
    text, error = _decode(data)
    if error:
        return [], [error]
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = _header(next(reader))
    except StopIteration:
        return [], [RosterError(0, "The file is empty.")]
    except csv.Error as problem:
        return [], [RosterError(1, f"The header cannot be read: {problem}.")]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        return [], [
            RosterError(
                1,
                "The first line must name the columns email, first_name, last_name and "
                f"student_id; missing: {', '.join(missing)}.",
            )
        ]
    where = {column: header.index(column) for column in COLUMNS}
    rows, errors = [], []
    seen_emails: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # Blank lines (often the last) are not rows.
            if len(cells) < len(header):
                errors.append(
                    RosterError(line, f"Expected {len(header)} columns, found {len(cells)}.")
                )
                continue
            row = RosterRow(line, *(cells[where[c]].strip() for c in COLUMNS))
            row.email = row.email.lower()
            reasons = _row_problems(row, seen_emails, seen_ids)
            errors.extend(RosterError(line, reason) for reason in reasons)
            seen_emails.setdefault(row.email, line)
            if row.student_id:
                seen_ids.setdefault(row.student_id, line)
            rows.append(row)
    except csv.Error as problem:
        errors.append(RosterError(reader.line_num, f"The line cannot be read: {problem}."))
    if len(rows) > MAX_ROWS:
        errors.insert(
            0,
            RosterError(
                0, f"The file has {len(rows):,} rows; at most {MAX_ROWS:,} go in one import."
            ),
        )
    if not rows and not errors:
        errors.append(RosterError(0, "The file has a header but no rows."))
    return rows, errors


def _row_problems(row: RosterRow, seen_emails: dict, seen_ids: dict) -> list[str]:
    problems = []
    if not row.email:
        problems.append("The email is missing.")
    else:
        try:
            validate_email(row.email)
        except ValidationError:
            problems.append(f"“{row.email}” is not an email address.")
        if row.email in seen_emails:
            problems.append(f"{row.email} is already on line {seen_emails[row.email]}.")
    for name, label in (("first_name", "first name"), ("last_name", "last name")):
        value = getattr(row, name)
        if not value:
            problems.append(f"The {label} is missing.")
        elif len(value) > NAME_MAX:
            problems.append(f"The {label} is longer than {NAME_MAX} characters.")
    if len(row.student_id) > STUDENT_ID_MAX:
        problems.append(f"The student ID is longer than {STUDENT_ID_MAX} characters.")
    elif row.student_id in seen_ids:
        problems.append(
            f"Student ID {row.student_id} is already on line {seen_ids[row.student_id]}."
        )
    return problems


# Against the database ------------------------------------------------------------------


def roster_plan(cohort: Cohort, data: bytes) -> RosterPlan:
    """What importing the file into the cohort would do, and every bad row."""
    rows, errors = roster_read(data)
    plan = RosterPlan(rows=rows, errors=errors)
    if cohort.archived_at is not None:
        # As a move into it is refused: last term's section takes no new students.
        plan.errors.insert(
            0,
            RosterError(0, f"{cohort.name} is archived: restore it on its page before importing."),
        )
    if not rows:
        return plan
    emails = {row.email for row in rows if row.email}
    by_email: dict[str, list[User]] = {}
    accounts = User.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
    for user in accounts:
        by_email.setdefault(user.email_lower, []).append(user)
    ids = {row.student_id for row in rows if row.student_id}
    by_id = {u.student_id: u for u in User.objects.filter(student_id__in=ids)}
    existing = [u.pk for us in by_email.values() for u in us]
    members = set(
        Membership.objects.filter(cohort=cohort, user__in=existing).values_list("user", flat=True)
    )
    conflicts = enrolment_conflicts(cohort, set(existing) - members)
    passwordless = [u.pk for us in by_email.values() for u in us if not u.has_usable_password()]
    invited = set(
        Invitation.objects.filter(user__in=passwordless).values_list("user", flat=True)
        if passwordless
        else ()
    )
    for row in rows:
        found = by_email.get(row.email, [])
        if len(found) > 1:
            plan.errors.append(
                RosterError(row.line, f"Two accounts have the email {row.email}; merge them first.")
            )
            continue
        user = found[0] if found else None
        owner = by_id.get(row.student_id) if row.student_id else None
        if owner is not None and owner != user:
            plan.errors.append(
                RosterError(
                    row.line,
                    f"Student ID {row.student_id} belongs to another account ({owner.username}).",
                )
            )
            continue
        if user is not None and row.student_id and user.student_id not in ("", row.student_id):
            plan.errors.append(
                RosterError(
                    row.line,
                    f"{row.email} has student ID {user.student_id}, not {row.student_id}.",
                )
            )
            continue
        if user is not None and (conflict := conflicts.get(user.pk)):
            plan.errors.append(RosterError(row.line, conflict.reason(row.email)))
            continue
        row.user = user
        if user is None:
            row.action = "create"
            continue
        if not user.is_active:
            row.warning = "the account is deactivated: reactivate it so they can sign in"
        elif user.pk in passwordless and user.pk not in invited:
            row.uninvited = True
        if (user.first_name, user.last_name) != (row.first_name, row.last_name):
            row.changes.append(f"name to {row.first_name} {row.last_name}")
        if row.student_id and not user.student_id:
            row.changes.append(f"student ID {row.student_id}")
        if user.pk not in members:
            row.changes.append("enrolled")
        row.action = "update" if row.changes else "skip"
    plan.errors.sort(key=lambda e: e.line)
    return plan


def roster_rejected(cohort: Cohort, plan: RosterPlan, actor: User | None) -> None:
    """Record in the audit log that a roster was refused (and nothing imported)."""
    audit(
        actor,
        AuditAction.IMPORT,
        f"Roster for {cohort.name} rejected: {len(plan.errors)} bad "
        f"row{'s' if len(plan.errors) != 1 else ''}, nothing imported",
        cohort=cohort,
        after={
            "rejected": len(plan.errors),
            "first": [f"line {e.line}: {e.reason}" for e in plan.errors[:5]],
        },
    )


@dataclass
class RosterResult:
    created: list[User]
    updated: int
    skipped: int
    invited: int = 0


def roster_apply(*, cohort: Cohort, data: bytes, actor: User | None, invite: bool = True):
    """Import the file into the cohort, all rows or none (raises RosterInvalid with the
    plan when any row is bad). New accounts have no usable password; with `invite` each
    is sent a set-password link once the import is saved, and so is each existing
    account in the file that never chose a password nor was sent one (an earlier import
    made it without inviting it: `RosterRow.uninvited`)."""
    with transaction.atomic():
        cohort = Cohort.objects.select_for_update().filter(pk=cohort.pk).first() or cohort
        plan = roster_plan(cohort, data)
        if not plan.ok:
            raise RosterInvalid(plan)
        result = _apply(cohort, plan, actor)
        if invite:
            # Recorded with the import, under its lock: a second confirm waiting on the
            # cohort then finds these accounts invited and invites them no second time.
            # The emails go once the import is saved.
            waiting = [row.user for row in plan.rows if row.uninvited]
            result.invited = invitations_send(
                result.created + waiting, cohort=cohort, sent_by=actor
            )
    return result


def _apply(cohort: Cohort, plan: RosterPlan, actor: User | None) -> RosterResult:
    new_rows = plan.of("create")
    created = [
        User(
            username=username,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            student_id=row.student_id,
        )
        for row, username in zip(
            new_rows, free_usernames([row.email for row in new_rows]), strict=True
        )
    ]
    for user in created:
        user.set_unusable_password()
    created = User.objects.bulk_create(created, batch_size=1000)
    updated, changed = [], []
    for row in plan.of("update"):
        user = row.user
        before = {"name": f"{user.first_name} {user.last_name}", "student_id": user.student_id}
        user.first_name, user.last_name = row.first_name, row.last_name
        user.student_id = row.student_id or user.student_id
        after = {"name": f"{user.first_name} {user.last_name}", "student_id": user.student_id}
        updated.append(user)
        if after != before:
            changed.append((user, before, after))
    User.objects.bulk_update(updated, ["first_name", "last_name", "student_id"], batch_size=1000)
    joining = created + [row.user for row in plan.of("update") if "enrolled" in row.changes]
    Membership.objects.bulk_create(
        [Membership(cohort=cohort, user=user) for user in joining],
        ignore_conflicts=True,
        batch_size=1000,
    )
    actor_id = actor.pk if actor is not None else None
    audit_many(
        [
            AuditEntry(
                actor_id=actor_id,
                action=AuditAction.ENROL,
                subject=user,
                cohort=cohort,
                summary=f"{user.email} enrolled in {cohort.name} by roster import",
                after={"cohort": cohort.name},
            )
            for user in joining
        ]
        # A name or a student number changed is a change made to someone: audited with
        # the values before and after, like every other.
        + [
            AuditEntry(
                actor_id=actor_id,
                action=AuditAction.IMPORT,
                subject=user,
                cohort=cohort,
                summary=f"{user.email} updated by roster import into {cohort.name}"[:300],
                before=before,
                after=after,
            )
            for user, before, after in changed
        ]
    )
    counts = plan.counts
    audit(
        actor,
        AuditAction.IMPORT,
        f"Roster imported into {cohort.name}: {counts['create']} created, "
        f"{counts['update']} updated, {counts['skip']} unchanged",
        cohort=cohort,
        after=counts,
    )
    work_sync_new_members(cohort, [user.pk for user in joining])
    return RosterResult(created=created, updated=counts["update"], skipped=counts["skip"])
