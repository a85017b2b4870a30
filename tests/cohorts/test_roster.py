"""Bulk enrolment from a CSV roster: every bad row listed with its line, and then
nothing imported; a good file imported in one transaction, reusing existing accounts."""

import re
import time

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from cases.models import AuditAction, AuditEntry, Invitation, Membership, User
from cases.services.cohorts.roster import MAX_ROWS, RosterInvalid, roster_apply, roster_plan
from cases.services.people import user_deactivate, user_reactivate
from tests.factories import CohortFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "email,first_name,last_name,student_id\n"


def _csv(*lines: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(lines) + "\n").encode()


@pytest.fixture
def cohort(world):
    return world.course.cohorts.get()


def _reasons(plan) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in plan.errors]


def test_a_good_file_creates_updates_and_skips(world, cohort):
    student = world.users["student"]
    student.email = "Li.Wei@Example.edu"
    student.save()
    other = User.objects.create(username="mei", email="mei@example.edu", first_name="Mei")
    data = _csv(
        "li.wei@example.edu,Student,Name,S001",  # Existing member: gets a student ID.
        "mei@example.edu,Mei,Chen,",  # Existing account, not a member: enrolled.
        "new.person@example.edu,New,Person,S003",  # New account.
    )
    plan = roster_plan(cohort, data)
    assert plan.ok, plan.errors
    assert plan.counts == {"create": 1, "update": 2, "skip": 0}
    result = roster_apply(cohort=cohort, data=data, actor=world.users["admin"], invite=False)
    assert [u.email for u in result.created] == ["new.person@example.edu"]
    new = User.objects.get(email="new.person@example.edu")
    assert (new.username, new.student_id, new.has_usable_password()) == (
        "new.person",
        "S003",
        False,
    )
    assert Membership.objects.filter(cohort=cohort, user__in=[new, other]).count() == 2
    student.refresh_from_db()
    assert (
        student.student_id == "S001"
        and User.objects.filter(email__iexact="li.wei@example.edu").count() == 1
    )
    # The same file again changes nothing.
    assert roster_plan(cohort, data).counts == {"create": 0, "update": 0, "skip": 3}
    entries = AuditEntry.objects.filter(cohort=cohort)
    assert entries.filter(action=AuditAction.ENROL).count() == 2
    summary = entries.get(action=AuditAction.IMPORT, subject__isnull=True)
    assert summary.after == {"create": 1, "update": 2, "skip": 0}
    # The two whose name or student ID changed, each with before and after.
    assert set(
        entries.filter(action=AuditAction.IMPORT, subject__isnull=False).values_list(
            "subject", flat=True
        )
    ) == {student.pk, other.pk}


def test_semicolons_a_byte_order_mark_and_columns_in_any_order(cohort):
    data = "\ufeffStudent ID;Last name;First name;Email\r\nS9;Zhang;Wei;wei@example.edu\r\n"
    plan = roster_plan(cohort, data.encode())
    assert plan.ok, plan.errors
    row = plan.rows[0]
    assert (row.email, row.first_name, row.last_name, row.student_id) == (
        "wei@example.edu",
        "Wei",
        "Zhang",
        "S9",
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([",Ann,Lee,1"], (2, "The email is missing.")),
        (["not-an-email,Ann,Lee,1"], (2, "“not-an-email” is not an email address.")),
        (
            ["a@example.edu,Ann,Lee,1", "A@example.edu,Bo,Li,2"],
            (3, "a@example.edu is already on line 2."),
        ),
        (
            ["a@example.edu,Ann,Lee,7", "b@example.edu,Bo,Li,7"],
            (3, "Student ID 7 is already on line 2."),
        ),
        (["a@example.edu,,Lee,1"], (2, "The first name is missing.")),
        (["a@example.edu,Ann"], (2, "Expected 4 columns, found 2.")),
    ],
    ids=["missing-email", "malformed-email", "duplicate-email", "duplicate-id", "no-name", "short"],
)
def test_each_kind_of_bad_row_is_named_with_its_line(cohort, lines, expected):
    plan = roster_plan(cohort, _csv(*lines))
    assert expected in _reasons(plan)


def test_a_student_id_of_another_account_conflicts(world, cohort):
    world.users["student"].student_id = "S100"
    world.users["student"].save()
    plan = roster_plan(cohort, _csv("someone@example.edu,Some,One,S100"))
    assert _reasons(plan) == [(2, "Student ID S100 belongs to another account (student).")]
    world.users["ta"].email = "ta@example.edu"
    world.users["ta"].student_id = "T1"
    world.users["ta"].save()
    plan = roster_plan(cohort, _csv("ta@example.edu,Tea,Assistant,T2"))
    assert _reasons(plan) == [(2, "ta@example.edu has student ID T1, not T2.")]


def test_whole_file_problems(cohort):
    assert (
        "not UTF-8"
        in _reasons(roster_plan(cohort, HEADER.encode() + b"a@b.edu,Jos\xe9,X,1\n"))[0][1]
    )
    assert _reasons(roster_plan(cohort, HEADER.encode() + b"a@b.edu,Jos\xe9,X,1\n"))[0][0] == 2
    missing = roster_plan(cohort, b"email,name\na@b.edu,Ann\n")
    assert "missing: first_name, last_name, student_id" in _reasons(missing)[0][1]
    assert _reasons(roster_plan(cohort, b"")) == [(0, "The file is empty.")]
    too_many = _csv(*(f"s{n}@example.edu,S,{n},{n}" for n in range(MAX_ROWS + 1)))
    assert _reasons(roster_plan(cohort, too_many))[0] == (
        0,
        "The file has 5,001 rows; at most 5,000 go in one import.",
    )


def test_one_bad_row_imports_nothing_and_lists_every_bad_row(world, cohort):
    data = _csv("good@example.edu,Good,Row,1", "bad,Bad,Row,2", "also-good@example.edu,,Row,3")
    with pytest.raises(RosterInvalid) as refused:
        roster_apply(cohort=cohort, data=data, actor=world.users["admin"])
    assert [e.line for e in refused.value.plan.errors] == [3, 4]
    assert not User.objects.filter(email__in=["good@example.edu", "bad"]).exists()
    assert not AuditEntry.objects.exists() and not mail.outbox


def test_new_accounts_are_invited_to_choose_a_password(
    world, cohort, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,A1"), actor=world.users["admin"]
        )
    assert Invitation.objects.get().user.email == "ann@example.edu"
    [message] = mail.outbox
    assert message.to == ["ann@example.edu"] and "username is ann" in message.body
    link = next(line for line in message.body.splitlines() if "/password/reset/" in line)
    page = client.get(link.removeprefix("http://127.0.0.1:8000"), follow=True)
    assert page.status_code == 200 and "new_password1" in page.content.decode()


def test_five_thousand_rows_import_in_one_transaction(world, cohort):
    data = _csv(*(f"s{n}@example.edu,Stu,Dent {n},ID{n}" for n in range(MAX_ROWS)))
    started = time.perf_counter()
    result = roster_apply(cohort=cohort, data=data, actor=world.users["admin"], invite=False)
    seconds = time.perf_counter() - started
    assert len(result.created) == MAX_ROWS
    assert Membership.objects.filter(cohort=cohort).count() == MAX_ROWS + 2
    print(f"\n5,000-row roster imported in {seconds:.2f} s")


def test_the_command_imports_or_exits_non_zero_with_the_report(world, cohort, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(_csv("ann@example.edu,Ann,Lee,A1"))
    call_command("import_roster", str(cohort.pk), str(good), "--no-invite")
    assert "1 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("bob@example.edu,Bob,Li,B1", "nope,No,Pe,B2"))
    with pytest.raises(CommandError) as failed:
        call_command("import_roster", str(cohort.pk), str(bad))
    assert "Line 3: “nope” is not an email address." in str(failed.value)
    assert not User.objects.filter(email="bob@example.edu").exists()


def _upload(client, cohort, data: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("roster.csv", data, content_type="text/csv")
    return client.post(
        reverse("cases:roster_import", args=[cohort.pk]),
        {"step": "preview", "file": upload, **fields},
    )


def test_an_admin_previews_then_confirms_in_the_browser_s_forms(world, cohort, client_for):
    client = client_for("admin")
    response = _upload(client, cohort, _csv("ann@example.edu,Ann,Lee,A1", "bo@example.edu,Bo,Li,"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 to create, 0 to update or enrol, 0 unchanged" in html and "ann@example.edu" in html
    assert not User.objects.filter(email="ann@example.edu").exists()  # Not yet.
    roster = re.search(r'name="roster" value="([^"]+)"', html).group(1)
    response = client.post(
        reverse("cases:roster_import", args=[cohort.pk]),
        {"step": "confirm", "roster": roster, "invite": "False"},
        follow=True,
    )
    assert "Imported into Section A: 2 new accounts" in response.content.decode()
    assert Membership.objects.filter(cohort=cohort, user__email="bo@example.edu").exists()
    assert not mail.outbox


def test_a_bad_file_lists_every_problem_and_changes_nothing(world, cohort, client_for):
    response = _upload(
        client_for("admin"), cohort, _csv("ann@example.edu,Ann,Lee,A1", "x,Bo,Li,", ",C,D,")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: 2 problems to fix" in html
    assert "<strong>Line 3</strong>: “x” is not an email address." in html
    assert "<strong>Line 4</strong>: The email is missing." in html
    assert 'name="step" value="confirm"' not in html
    assert not User.objects.filter(email="ann@example.edu").exists()
    rejected = AuditEntry.objects.get(action=AuditAction.IMPORT)
    assert rejected.summary == "Roster for Section A rejected: 2 bad rows, nothing imported"
    assert rejected.actor == world.users["admin"]


def test_an_upload_without_a_file_is_refused_next_to_the_field(world, cohort, client_for):
    response = client_for("admin").post(
        reverse("cases:roster_import", args=[cohort.pk]), {"step": "preview"}
    )
    assert response.status_code == 400
    assert "Choose the CSV file to import." in response.content.decode()


def test_an_admin_resends_an_invitation_to_someone_without_a_password(
    world, cohort, client_for, django_capture_on_commit_callbacks
):
    roster_apply(cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,A1"), actor=None, invite=False)
    ann = User.objects.get(email="ann@example.edu")
    client = client_for("admin")
    directory = client.get(reverse("cases:people_directory"), {"q": "ann"}).content.decode()
    assert "Resend invitation" in directory
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("cases:person_invite", args=[ann.pk]))
    assert [m.to for m in mail.outbox] == [["ann@example.edu"]]
    assert AuditEntry.objects.filter(action=AuditAction.INVITE, subject=ann).exists()
    client.post(reverse("cases:person_invite", args=[world.users["student"].pk]))
    assert len(mail.outbox) == 1  # The student has a password: nothing to resend.


def test_a_row_for_a_student_of_another_section_or_for_the_course_s_staff_is_refused(
    world, client_for
):
    """Section B takes the same course as Section A. A roster for B that names a student
    of A, or the course's instructor or TA, would put a student in two sections of one
    course (two sets of dates) or make staff a student of their own course: each such
    row is bad, so nothing is imported; an archived section of last term is no obstacle,
    and a student of another course's cohort is enrolled."""
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    last_term = CohortFactory(name="Last term", archived_at=timezone.now())
    world.course.cohorts.add(last_term)
    emails = {"student": "li@example.edu", "instructor": "prof@example.edu"}
    emails |= {"ta": "ta@example.edu", "other_student": "other@example.edu"}
    for role, email in emails.items():
        User.objects.filter(pk=world.users[role].pk).update(email=email)
    alumnus = UserFactory(username="alumnus", email="alum@example.edu")
    MembershipFactory(cohort=last_term, user=alumnus)
    data = _csv(
        "li@example.edu,Li,Wei,",
        "prof@example.edu,Pat,Prof,",
        "ta@example.edu,Tam,Assist,",
        "other@example.edu,Oth,Er,",
        "alum@example.edu,Al,Umnus,",
    )
    response = _upload(client_for("admin"), section_b, data)
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "<strong>Line 2</strong>: li@example.edu is already in Section A, another section "
        "of MGT 6001: move them from there instead."
    ) in html
    assert "<strong>Line 3</strong>: prof@example.edu teaches MGT 6001" in html
    assert "<strong>Line 4</strong>: ta@example.edu teaches MGT 6001" in html
    assert "Line 5" not in html and "Line 6" not in html
    assert not Membership.objects.filter(cohort=section_b).exists()
    # Moved to Section B first, the student is already there: the file imports.
    client_for("admin").post(
        reverse("cases:cohort_members", args=[world.course.cohorts.get(name="Section A").pk]),
        {"action": "move", "students": [world.users["student"].pk], "to": section_b.pk},
    )
    assert roster_plan(section_b, _csv("li@example.edu,Li,Wei,")).ok


def test_the_preview_says_which_accounts_are_deactivated(
    world, cohort, client_for, tmp_path, capsys
):
    """A returning student whose account was deactivated is enrolled by the import, but
    cannot sign in (and is sent no invitation): the preview says so beside their row,
    so the admin knows to reactivate them."""
    returning = UserFactory(username="back", email="back@example.edu", is_active=False)
    response = _upload(client_for("admin"), cohort, _csv("back@example.edu,Back,Again,"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "enrolled; the account is deactivated: reactivate it so they can sign in" in html
    assert roster_plan(cohort, _csv("back@example.edu,Back,Again,")).rows[0].user == returning
    path = tmp_path / "roster.csv"
    path.write_bytes(_csv("back@example.edu,Back,Again,"))
    call_command("import_roster", str(cohort.pk), str(path), "--dry-run")
    assert "Line 2: back@example.edu: the account is deactivated" in capsys.readouterr().out


def test_an_invitation_opened_after_the_account_was_deactivated_sets_no_password(
    world, cohort, client, django_capture_on_commit_callbacks
):
    """Ann is imported and invited, then deactivated before she opens the email: the
    link says it no longer works, rather than taking a password and sending her to a
    sign-in that will refuse it. Reactivated (within the three days), it works again."""
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,A1"), actor=None)
    ann = User.objects.get(email="ann@example.edu")
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    path = link.removeprefix("http://127.0.0.1:8000")
    user_deactivate(user=ann, by=world.users["admin"])
    page = client.get(path, follow=True)
    assert "new_password1" not in page.content.decode()
    client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else path,
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    ann.refresh_from_db()
    assert not ann.has_usable_password()
    user_reactivate(user=ann, by=world.users["admin"])
    page = client.get(path, follow=True)
    assert "new_password1" in page.content.decode()


def test_an_archived_cohort_takes_no_roster_until_restored(world, cohort, client_for):
    """Archived (last term's section), the cohort takes no new students, as a move into
    it is refused: the preview says to restore it first, and nothing is imported."""
    client = client_for("admin")
    client.post(reverse("cases:cohort_archive", args=[cohort.pk]), {"archived": "1"})
    response = _upload(client, cohort, _csv("ann@example.edu,Ann,Lee,A1"))
    assert response.status_code == 400
    assert "Section A is archived: restore it on its page before importing." in (
        response.content.decode()
    )
    with pytest.raises(RosterInvalid):
        roster_apply(cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,A1"), actor=None)
    assert not User.objects.filter(email="ann@example.edu").exists()
    client.post(reverse("cases:cohort_archive", args=[cohort.pk]), {"archived": "0"})
    assert _upload(client, cohort, _csv("ann@example.edu,Ann,Lee,A1")).status_code == 200


def test_a_second_import_that_changes_names_or_student_ids_is_audited_person_by_person(
    world, cohort, client_for
):
    """The registrar's second file spells Ann's name differently and gives her a
    student number: the audit log shows, under her name, the values before and after,
    as it does for every other change made to someone."""
    roster_apply(cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,"), actor=None, invite=False)
    ann = User.objects.get(email="ann@example.edu")
    data = _csv("ann@example.edu,Anne,Lee,S-77")
    roster_apply(cohort=cohort, data=data, actor=world.users["admin"], invite=False)
    [entry] = AuditEntry.objects.filter(subject=ann, action=AuditAction.IMPORT)
    assert entry.actor == world.users["admin"] and entry.cohort == cohort
    assert entry.summary == "ann@example.edu updated by roster import into Section A"
    assert entry.before == {"name": "Ann Lee", "student_id": ""}
    assert entry.after == {"name": "Anne Lee", "student_id": "S-77"}
    # The same file again changes nothing and writes nothing more about her.
    roster_apply(cohort=cohort, data=data, actor=world.users["admin"], invite=False)
    assert AuditEntry.objects.filter(subject=ann, action=AuditAction.IMPORT).count() == 1
    log = client_for("admin").get(reverse("cases:audit_log"), {"action": "import"})
    html = log.content.decode()
    assert "name: Ann Lee" in html and "name: Anne Lee; student_id: S-77" in html


def _confirm(client, cohort, html: str, invite: str):
    roster = re.search(r'name="roster" value="([^"]+)"', html).group(1)
    return client.post(
        reverse("cases:roster_import", args=[cohort.pk]),
        {"step": "confirm", "roster": roster, "invite": invite},
        follow=True,
    )


def test_a_roster_imported_first_without_invitations_then_with_them_invites_everyone_once(
    world, cohort, client_for, django_capture_on_commit_callbacks
):
    """The admin imports the section's roster with the invitation box unticked, to check
    the accounts before term. A week later she imports the updated roster (one more
    student) with the box ticked. The preview says the two earlier accounts have no
    password and were never invited, and the import sends all three their invitation,
    as its message says; not only the newcomer, leaving the others no way in. A third
    import of the same file invites nobody again."""
    client = client_for("admin")
    first = _csv("ann@example.edu,Ann,Lee,A1", "bo@example.edu,Bo,Li,")
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(client, cohort, _upload(client, cohort, first).content.decode(), "False")
    assert not mail.outbox

    second = _csv("ann@example.edu,Ann,Lee,A1", "bo@example.edu,Bo,Li,", "cy@example.edu,Cy,Wu,")
    preview = _upload(client, cohort, second, invite="on").content.decode()
    assert preview.count("no password yet and never invited: this import invites them") == 2
    with django_capture_on_commit_callbacks(execute=True):
        done = _confirm(client, cohort, preview, "True").content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ann@example.edu",
        "bo@example.edu",
        "cy@example.edu",
    ]
    assert "3 invitations sent" in done

    mail.outbox.clear()
    again = _upload(client, cohort, second, invite="on").content.decode()
    assert "never invited" not in again
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(client, cohort, again, "True")
    assert not mail.outbox


def test_an_invitation_says_how_to_get_a_new_link_when_it_has_expired(
    world, cohort, django_capture_on_commit_callbacks
):
    """Ann's invitation expires before she opens it. The email she has told her to ask
    the administrator for a new one, though she can get one herself (a reset request
    sends an invited account a fresh invitation): it now gives the page that sends one,
    in the text and the HTML alike."""
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=cohort, data=_csv("ann@example.edu,Ann,Lee,A1"), actor=world.users["admin"]
        )
    [message] = mail.outbox
    reset = "http://127.0.0.1:8000" + reverse("password_reset")
    assert reset in [line.strip() for line in message.body.splitlines()]
    assert f'href="{reset}"' in message.alternatives[0][0]
    assert "ask your course's administrator" not in message.body


def test_a_roster_and_an_invitation_never_make_a_username_that_differs_only_in_case(
    world, cohort, client_for, django_capture_on_commit_callbacks
):
    """Ann chose the username "Ann" when she signed up, and signs in as "ann", as people
    do. The admin then imports a roster with another Ann (ann@exchange.example.org) and,
    on the course's People page, invites a third (ANN@partner.example.org) as TA. Each
    new account is given a username no other has in any case (ann-2, ann-3; their
    invitations say so), so Ann still signs in typing "ann", and each newcomer, having
    chosen a password, signs in typing her own username in capitals."""
    from django.test import Client

    User.objects.create_user(username="Ann", email="ann@example.edu", password="ann-passphrase-1")
    client = client_for("admin")
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=cohort,
            data=_csv("ann@exchange.example.org,Ann,Exchange,X1"),
            actor=world.users["admin"],
        )
        client.post(
            reverse("cases:course_people", args=[world.course.pk]),
            {"person": "ANN@partner.example.org", "role": "ta"},
        )
    made = {
        u.email: u.username
        for u in User.objects.filter(
            email__in=["ann@exchange.example.org", "ANN@partner.example.org"]
        )
    }
    assert made == {"ann@exchange.example.org": "ann-2", "ANN@partner.example.org": "ann-3"}
    assert ["username is ann-2" in m.body for m in mail.outbox] == [True, False]
    assert ["username is ann-3" in m.body for m in mail.outbox] == [False, True]

    def sign_in(typed: str, password: str) -> User | None:
        browser = Client()
        browser.post(reverse("login"), {"username": typed, "password": password})
        user = browser.get(reverse("cases:home")).wsgi_request.user
        return user if user.is_authenticated else None

    assert sign_in("ann", "ann-passphrase-1").email == "ann@example.edu"
    for message in mail.outbox:
        link = next(line for line in message.body.splitlines() if "/password/reset/" in line)
        browser = Client()
        form_page = browser.get(link[link.index("/password/reset/") :].strip(), follow=True)
        browser.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
        )
    assert sign_in("ANN-2", "a-new-long-passphrase").email == "ann@exchange.example.org"
    assert sign_in("Ann-3", "a-new-long-passphrase").email == "ANN@partner.example.org"
    assert sign_in("ANN", "ann-passphrase-1").email == "ann@example.edu"


def test_the_migration_to_case_insensitive_usernames_names_the_accounts_it_refuses_for(world):
    """A database from before the rule may hold "ann" beside "Ann" (made by an import).
    The migration does not merge or rename them: it stops, naming each, so an admin
    decides; a database without such pairs migrates as before."""
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("cases.migrations.0038_username_case_insensitive_unique")
    migration.refuse_case_clashes(apps, None)  # None here: nothing to refuse.
    with connection.cursor() as cursor:  # As it was: undone when the test's transaction is.
        cursor.execute("DROP INDEX user_username_case_insensitive_unique")
    User.objects.create(username="Ann", email="ann@example.edu")
    User.objects.create(username="ann", email="ann@exchange.example.org")
    User.objects.create(username="BO", email="bo@example.edu")
    with pytest.raises(RuntimeError) as refused:
        migration.refuse_case_clashes(apps, None)
    assert "differ only in case: Ann, ann." in str(refused.value)
    assert "Rename all but one of each group" in str(refused.value)
