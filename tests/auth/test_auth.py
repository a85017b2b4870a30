import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from cases.models import LoginThrottle, User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _attempt(client, username, password="wrong-password", address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_correct_password_signs_in_and_lands_on_dashboard(client, world):
    response = _attempt(client, "student", PASSWORD)
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200


def test_wrong_password_shows_error_and_keeps_the_username(client, world):
    response = _attempt(client, "student")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please enter a correct username and password" in html
    assert 'value="student"' in html


def test_repeated_failures_lock_the_username_even_with_the_right_password(client, world, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert _attempt(client, "student").status_code == 200
    response = _attempt(client, "student", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_typed_as_the_email_and_the_username_count_against_one_account(
    client, world, settings
):
    """Sign-in takes an account's username or its email. Guesses alternating between
    the two (and their cases) count against the one account they name, not two
    separate tallies: after the limit, the right password by either is refused."""
    student = User.objects.get(username="student")
    typed = [student.username, student.email, student.email.upper(), "STUDENT"]
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        assert _attempt(client, typed[n % len(typed)]).status_code == 200
    for name in (student.email, student.username):
        response = _attempt(client, name, PASSWORD)
        assert response.status_code == 429, name
    assert "_auth_user_id" not in client.session


def test_lockout_answers_the_same_for_unknown_usernames(client, world, settings):
    for username in ["student", "nobody-by-this-name"]:
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            _attempt(client, username)
    known = _attempt(client, "student")
    unknown = _attempt(client, "nobody-by-this-name")
    assert known.status_code == unknown.status_code == 429

    def main_text(response, username):
        html = response.content.decode().replace(username, "USERNAME")
        main = html[html.index("<main") : html.index("</main>")]
        return re.sub(r'value="[^"]{20,}"', "", main)  # Drop the per-response CSRF token.

    assert main_text(known, "student") == main_text(unknown, "nobody-by-this-name")


def test_lockout_ends_when_the_window_has_passed(client, world, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _attempt(client, "student")
    assert _attempt(client, "student", PASSWORD).status_code == 429
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    for throttle in LoginThrottle.objects.all():
        throttle.window_started_at -= window
        throttle.save()
    assert _attempt(client, "student", PASSWORD).status_code == 302


def test_one_address_trying_many_usernames_is_locked(client, world, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT * 20):
        _attempt(client, f"guess{n}", address="10.9.9.9")
    assert _attempt(client, "student", PASSWORD, address="10.9.9.9").status_code == 429
    assert _attempt(client, "student", PASSWORD, address="10.1.1.1").status_code == 302


def test_logout_needs_a_post(client_for):
    client = client_for("student")
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("cases:home")).status_code == 302


def test_password_reset_answers_the_same_whether_or_not_the_address_exists(client, world):
    known = client.post(reverse("password_reset"), {"email": "student@example.edu"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.edu"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["student@example.edu"]


def test_password_reset_link_lets_the_user_choose_a_new_password(client, world):
    client.post(reverse("password_reset"), {"email": "student@example.edu"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    path = link[link.index("/password/reset/") :].strip()
    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert done.status_code == 302
    assert client.login(username="student", password="a-new-long-passphrase")


def test_password_change_rejects_a_mismatch_beside_the_field(client_for):
    client = client_for("student")
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-passphrase",
            "new_password2": "different-long-passphrase",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "field--invalid" in html
    assert "match" in html.split("field--invalid", 1)[1]


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(client, world, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _attempt(client, "student", address="10.6.6.6")
    assert _attempt(client, "student", PASSWORD, address="10.6.6.6").status_code == 429
    assert _attempt(client, "student", PASSWORD, address="10.1.2.3").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, world, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": "student", "password": "nope"},
            REMOTE_ADDR="10.0.0.254",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    other = client.post(
        reverse("login"),
        {"username": "student", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.254",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert other.status_code == 302


def test_a_password_reset_lifts_the_lockout(client, world, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _attempt(client, "student")
    client.post(reverse("password_reset"), {"email": "student@example.edu"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    page = client.get(link[link.index("/password/reset/") :].strip(), follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert _attempt(client, "student", "a-new-long-passphrase").status_code == 302


def test_password_reset_requests_are_throttled_without_changing_the_answer(client, world):
    responses = [
        client.post(reverse("password_reset"), {"email": "student@example.edu"}) for _ in range(5)
    ]
    assert {r.status_code for r in responses} == {302}
    assert {r["Location"] for r in responses} == {reverse("password_reset_done")}
    assert len(mail.outbox) == 3


# Every way in shares one counter ------------------------------------------------------


def _admin_attempt(client, username, password="wrong-password", address="10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=address,
    )


def test_locked_out_at_the_sign_in_page_the_admin_sign_in_does_not_let_them_in(
    client, world, settings
):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert _attempt(client, "admin").status_code == 200
    assert _attempt(client, "admin", PASSWORD).status_code == 429
    response = _admin_attempt(client, "admin", PASSWORD)
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302
    # From another address the staff member still gets in.
    assert _admin_attempt(client, "admin", PASSWORD, address="10.7.7.7").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_wrong_passwords_at_the_admin_sign_in_lock_the_sign_in_page_too(client, world, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        response = _admin_attempt(client, "admin")
        assert "Please enter the correct username and password" in response.content.decode()
    assert _admin_attempt(client, "admin", PASSWORD).status_code == 200
    response = _attempt(client, "admin", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# Password-reset email goes through the task queue --------------------------------------


def test_a_password_reset_is_only_queued_by_the_request_and_sent_by_the_worker(
    client, world, settings
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    from django.tasks import default_task_backend

    known = client.post(reverse("password_reset"), {"email": "student@example.edu"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.edu"})
    assert known.status_code == unknown.status_code == 302
    # The request did the same either way: queued one task, sent nothing.
    assert mail.outbox == []
    queued = default_task_backend.results
    assert [r.args for r in queued] == [["student@example.edu"], ["nobody@example.edu"]]
    for result in queued:
        result.task.call(*result.args, **result.kwargs)
    [email] = mail.outbox
    assert email.to == ["student@example.edu"]
    html = email.alternatives[0].content
    link = next(line for line in email.body.splitlines() if "/password/reset/" in line).strip()
    assert link.startswith(settings.SITE_URL)
    assert f'href="{link}"' in html


def test_each_request_sees_who_is_signed_in_now_across_sign_out_and_in(client, world):
    """One browser, two students in turn: every page is the signed-in student's own,
    and `request.user` is the user itself, not Django's lazy stand-in
    (SignedInUserMiddleware)."""
    assert _attempt(client, "student", PASSWORD).status_code == 302
    mine = client.get(reverse("cases:home"))
    assert type(mine.wsgi_request.user) is User
    assert mine.wsgi_request.user.username == "student"
    assert world.course.code in mine.content.decode()
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("cases:home")).status_code == 302
    assert _attempt(client, "other_student", PASSWORD).status_code == 302
    theirs = client.get(reverse("cases:home"))
    assert theirs.wsgi_request.user.username == "other_student"
    assert world.course.code not in theirs.content.decode()
    assert world.other_course.code in theirs.content.decode()


# A deactivated account ----------------------------------------------------------------


def test_a_deactivated_account_is_told_so_and_is_not_locked_out_once_reactivated(
    client, world, settings
):
    """An admin deactivates a student and a TA. The student, with the right password,
    is told the account is deactivated (not that the password is wrong), however often
    they try; so is the TA at the admin's sign-in. A wrong password still reads as one.
    Reactivated, the student signs in at once: the tries with the right password were
    no failures to lock them out for."""
    from django.test import Client

    admin = Client()
    admin.force_login(world.users["admin"])
    for role in ("student", "ta"):
        url = reverse("cases:person_deactivate", args=[world.users[role].pk])
        admin.post(url, {"confirm": "yes"})
    for _ in range(settings.LOGIN_FAILURE_LIMIT + 1):
        response = _attempt(client, "student", PASSWORD)
        assert response.status_code == 200
        assert "This account is deactivated" in response.content.decode()
        assert "Please enter a correct username and password" not in response.content.decode()
        assert "_auth_user_id" not in client.session
    wrong = _attempt(client, "student").content.decode()
    assert "Please enter a correct username and password" in wrong
    assert "deactivated" not in wrong
    response = _admin_attempt(client, "ta", PASSWORD)
    assert "This account is deactivated" in response.content.decode()
    assert "_auth_user_id" not in client.session

    admin.post(reverse("cases:person_reactivate", args=[world.users["student"].pk]))
    assert _attempt(client, "student", PASSWORD).status_code == 302
    assert client.get(reverse("cases:home")).status_code == 200


# An invitation that expired ---------------------------------------------------------


def test_an_invited_student_whose_link_expired_gets_a_new_one_by_asking_for_a_reset(
    client, world, settings, django_capture_on_commit_callbacks
):
    """An admin's roster import invites Ann. She opens the link days too late: the page
    says it expired and to ask for a new one; she does, on the reset page, and a new
    link to choose her password (naming her username) arrives, rather than nothing. It
    lets her choose one and sign in."""
    from cases.services.cohorts.roster import roster_apply

    header = "email,first_name,last_name,student_id\n"
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=world.course.cohorts.get(),
            data=(header + "ann@example.edu,Ann,Lee,A1\n").encode(),
            actor=world.users["admin"],
        )
    [invitation] = mail.outbox
    link = next(line for line in invitation.body.splitlines() if "/password/reset/" in line)
    settings.PASSWORD_RESET_TIMEOUT = -1  # Days later.
    page = client.get(link.strip().removeprefix("http://127.0.0.1:8000"), follow=True)
    assert "This link has been used or has expired" in page.content.decode()
    settings.PASSWORD_RESET_TIMEOUT = 3 * 86400

    mail.outbox.clear()
    asked = client.post(reverse("password_reset"), {"email": "Ann@example.edu"})
    assert asked.status_code == 302
    [again] = mail.outbox
    assert again.to == ["ann@example.edu"] and "ann" in again.body
    link = next(line for line in again.body.splitlines() if "/password/reset/" in line)
    form_page = client.get(link.strip().removeprefix("http://127.0.0.1:8000"), follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert done.status_code == 302
    signed_in = _attempt(
        client, User.objects.get(email="ann@example.edu").username, "a-new-long-passphrase"
    )
    assert signed_in.status_code == 302


def _link_path(message) -> str:
    link = next(line for line in message.body.splitlines() if "/password/reset/" in line)
    return link[link.index("/password/reset/") :].strip()


def test_an_invitation_used_in_a_browser_signed_in_as_someone_else_signs_in_its_owner(
    client, world, django_capture_on_commit_callbacks
):
    """The admin makes Prof. Tan's account without a password, gives her the instructor
    role and sends her the invitation from the People page. She opens it on the
    department's shared computer, where the admin is still signed in, and chooses her
    password. She lands on her teaching page as herself, not on the admin's pages with
    a "Sign in" button that only leads back to them; a student invited by a roster
    import lands on their own dashboard the same way."""
    from cases.services.cohorts.roster import roster_apply
    from cases.services.people import course_role_add

    admin = world.users["admin"]
    tan = User.objects.create(username="tan", email="tan@example.edu", first_name="Mei")
    tan.set_unusable_password()
    tan.save()
    course_role_add(course=world.course, user=tan, role="instructor", by=admin)
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("cases:person_invite", args=[tan.pk]))
    [invitation] = mail.outbox

    form_page = client.get(_link_path(invitation), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
        follow=True,
    )
    assert done.wsgi_request.user == tan
    assert done.redirect_chain[-1][0] == reverse("cases:instructor_dashboard")
    assert "Your password is set" in done.content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=world.course.cohorts.get(),
            data=b"email,first_name,last_name,student_id\nann@example.edu,Ann,Lee,A1\n",
            actor=admin,
        )
    form_page = client.get(_link_path(mail.outbox[0]), follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"},
        follow=True,
    )
    assert done.wsgi_request.user.email == "ann@example.edu"
    assert done.redirect_chain[-1][0] == reverse("cases:home")
    assert "MGT 6001" in done.content.decode()


def test_an_invited_student_signs_in_later_with_her_email_or_her_username_in_any_case(
    client, world, django_capture_on_commit_callbacks
):
    """Ann was enrolled by a roster import; her invitation named the username made from
    her address (ann.lee) and she chose her password from it. A week later, at the
    sign-in page, she types her email as she always writes it, then her username with a
    capital: both let her in, where they answered "wrong username or password" with her
    right password. A wrong password is still refused, and an address two accounts
    share signs in neither."""
    from cases.services.cohorts.roster import roster_apply

    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=world.course.cohorts.get(),
            data=b"email,first_name,last_name,student_id\nAnn.Lee@Example.edu,Ann,Lee,A1\n",
            actor=world.users["admin"],
        )
    form_page = client.get(_link_path(mail.outbox[0]), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    client.logout()
    ann = User.objects.get(username="ann.lee")
    for typed in (" Ann.Lee@example.EDU ", "Ann.Lee"):
        signed_in = _attempt(client, typed, "a-new-long-passphrase")
        assert signed_in.status_code == 302, typed
        assert client.get(reverse("cases:home")).wsgi_request.user == ann
        client.logout()
    assert _attempt(client, "ann.lee@example.edu", "wrong-password").status_code == 200
    User.objects.create_user(
        username="twin", email="ann.lee@example.edu", password="a-new-long-passphrase"
    )
    assert _attempt(client, "ann.lee@example.edu", "a-new-long-passphrase").status_code == 200


def test_an_invitation_opened_again_after_use_says_it_was_used_and_how_to_get_in(
    client, world, django_capture_on_commit_callbacks
):
    """Ann chose her password from her invitation and was signed in. Days later she
    clicks the same link in her inbox: the page no longer only says it expired and to
    ask for a new one (which would send her a reset she does not need): it says the
    link was used or expired, that she is signed in as ann and links her dashboard.
    Opened signed out, it offers the sign-in page first, and a new link second."""
    from cases.services.cohorts.roster import roster_apply

    with django_capture_on_commit_callbacks(execute=True):
        roster_apply(
            cohort=world.course.cohorts.get(),
            data=b"email,first_name,last_name,student_id\nann@example.edu,Ann,Lee,A1\n",
            actor=world.users["admin"],
        )
    link = _link_path(mail.outbox[0])
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    again = client.get(link, follow=True).content.decode()
    assert "used or has expired" in again
    assert "You are signed in as ann" in again and f'href="{reverse("cases:home")}"' in again
    client.logout()
    out = client.get(link, follow=True).content.decode()
    assert f'href="{reverse("login")}"' in out.split("<main", 1)[1]
    assert f'href="{reverse("password_reset")}"' in out
