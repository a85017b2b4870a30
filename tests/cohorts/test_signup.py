"""Signing up with a join code: the code is checked first and alone, the email is
confirmed by a link before any account exists, the page never says whether an address
has an account, and wrong codes and sign-ups are throttled."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from cases.models import AuditAction, AuditEntry, Cohort, User
from cases.permissions import JOIN_CODE_DISABLED, JOIN_CODE_UNKNOWN
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "red-queen-runs-fast"


@pytest.fixture
def section(world) -> Cohort:
    return world.course.cohorts.get()


def _signup(section, **changes) -> dict:
    return {
        "code": section.join_code,
        "username": "newcomer",
        "first_name": "Mei",
        "last_name": "Lin",
        "email": "mei@example.edu",
    } | changes


def _post(client, data, address="10.0.0.1"):
    return client.post(reverse("cases:signup"), data, REMOTE_ADDR=address)


def _links(email) -> list[str]:
    return re.findall(r"https?://\S+", email.body)


def _path(link: str) -> str:
    return link[link.index("/", len("https://")) :]


def _main(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def _finish(client, link, username="newcomer", password=NEW_PASSWORD):
    data = {"username": username, "password1": password, "password2": password}
    return client.post(_path(link), data)


def test_a_made_up_code_says_only_that_the_code_is_wrong_and_keeps_what_was_typed(world, client):
    taken = _signup(world.course.cohorts.get(), username="student", email="student@example.edu")
    for code in ["NOSUCH23", "nosuch23"]:
        response = _post(client, taken | {"code": code})
        html = response.content.decode()
        assert response.status_code == 200
        assert dict(response.context["form"].errors) == {"code": [JOIN_CODE_UNKNOWN]}
        assert "already exists" not in html
        assert "An account with this email" not in html
        assert 'value="student@example.edu"' in html
        assert 'value="Mei"' in html
    assert mail.outbox == []


def test_signing_up_sends_a_link_and_using_it_makes_a_signed_in_member(world, client, section):
    response = _post(client, _signup(section))
    assert response.url == reverse("cases:signup_sent")
    sent = client.get(response.url)
    assert "We have sent a link to mei@example.edu" in sent.content.decode()
    assert not User.objects.filter(email="mei@example.edu").exists()
    [email] = mail.outbox
    assert email.to == ["mei@example.edu"]
    [link] = _links(email)
    assert f'href="{link}"' in email.alternatives[0].content
    # Opening the link changes nothing (mail scanners open links); the button does.
    page = client.get(_path(link))
    assert "Create my account" in page.content.decode()
    assert page.context["form"]["username"].value() == "newcomer"
    assert not User.objects.filter(email="mei@example.edu").exists()
    done = _finish(client, link)
    assert done.url == reverse("cases:home")
    user = User.objects.get(email="mei@example.edu")
    assert (user.username, user.first_name, user.is_active) == ("newcomer", "Mei", True)
    assert user.check_password(NEW_PASSWORD)
    home = client.get(done.url)
    assert home.context["user"] == user
    assert "Welcome, Mei. You are in Section A." in home.content.decode()
    assert section.memberships.filter(user=user).exists()
    [entry] = AuditEntry.objects.filter(action=AuditAction.ENROL)
    assert (entry.actor, entry.subject, entry.cohort) == (user, user, section)
    # The link works once.
    client.logout()
    again = client.get(_path(link))
    assert "This link has been used or has expired" in again.content.decode()
    assert _finish(client, link, username="newcomer2").status_code == 200
    assert User.objects.filter(email="mei@example.edu").count() == 1


def test_an_email_with_an_account_gets_the_same_answer_and_the_owner_a_way_in(
    world, client, section
):
    fresh = client.get(_post(client, _signup(section)).url)
    mail.outbox.clear()
    users = User.objects.count()
    response = _post(client, _signup(section, username="someone", email="STUDENT@example.edu"))
    assert response.url == reverse("cases:signup_sent")
    known = client.get(response.url)
    assert _main(known).replace("STUDENT@example.edu", "EMAIL") == _main(fresh).replace(
        "mei@example.edu", "EMAIL"
    )
    assert User.objects.count() == users
    [email] = mail.outbox
    assert email.to == ["student@example.edu"]
    assert "tried to create a Red Queen account with this address" in email.body
    assert "Section A" in email.body
    sign_in, choose_password, join = _links(email)
    assert (_path(sign_in), _path(join)) == (reverse("login"), reverse("cases:cohort_join"))
    page = client.get(_path(choose_password), follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert client.login(username="student", password=NEW_PASSWORD)


def test_signing_up_twice_before_using_the_link_makes_one_account(world, client, section):
    _post(client, _signup(section))
    _post(client, _signup(section, username="meilin"))
    first, second = (_links(email)[0] for email in mail.outbox)
    assert not User.objects.filter(email="mei@example.edu").exists()
    assert _finish(client, second, username="meilin").url == reverse("cases:home")
    client.logout()
    assert "has been used" in _finish(client, first).content.decode()
    [user] = User.objects.filter(email="mei@example.edu")
    assert user.username == "meilin"
    assert not User.objects.filter(username="newcomer").exists()


def test_a_deactivated_account_is_neither_revived_nor_doubled_by_signing_up(
    world, client, client_for, section
):
    _post(client, _signup(section))
    [link] = _links(mail.outbox[0])
    _finish(client, link)
    user = User.objects.get(email="mei@example.edu")
    admin = client_for("admin")
    admin.post(reverse("cases:person_deactivate", args=[user.pk]), {"confirm": "yes"})
    user.refresh_from_db()
    assert not user.is_active
    client.logout()
    mail.outbox.clear()
    # The old link, and a new sign-up with the same address, leave it deactivated.
    assert "has been used" in _finish(client, link).content.decode()
    assert _post(client, _signup(section, username="mei2")).url == reverse("cases:signup_sent")
    assert mail.outbox == []
    assert User.objects.filter(email="mei@example.edu").count() == 1
    user.refresh_from_db()
    assert not user.is_active
    assert "_auth_user_id" not in client.session


def test_the_link_page_refuses_a_taken_username_and_a_weak_password_beside_the_field(
    world, client, section
):
    _post(client, _signup(section))
    [link] = _links(mail.outbox[0])
    taken = _finish(client, link, username="student")
    assert "already exists" in " ".join(taken.context["form"].errors["username"])
    weak = _finish(client, link, password="password")
    assert "too common" in " ".join(weak.context["form"].errors["password2"])
    assert not User.objects.filter(email="mei@example.edu").exists()


def test_an_expired_link_says_so_and_offers_to_sign_up_again(world, client, section, settings):
    _post(client, _signup(section))
    [link] = _links(mail.outbox[0])
    settings.PASSWORD_RESET_TIMEOUT = -1
    page = client.get(_path(link))
    html = page.content.decode()
    assert "This link has been used or has expired" in html
    assert f'href="{reverse("cases:signup")}"' in html
    assert f'href="{reverse("password_reset")}"' in html
    assert _finish(client, link, username="newcomer").status_code == 200
    assert not User.objects.filter(email="mei@example.edu").exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"code": ""}, "code", "Type your cohort"),
        ({"username": "Student"}, "username", "already exists"),
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"last_name": ""}, "last_name", "This field is required."),
    ],
)
def test_bad_sign_up_sends_nothing_and_says_why_beside_the_field(
    world, client, section, change, field, message
):
    response = _post(client, _signup(section, **change))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert 'value="Mei"' in response.content.decode() or field == "first_name"
    assert mail.outbox == []


def test_sign_up_without_an_open_code_is_refused_even_when_the_rest_is_right(
    world, client, section
):
    Cohort.objects.filter(pk=section.pk).update(join_code_enabled=False)
    response = _post(client, _signup(section))
    assert dict(response.context["form"].errors) == {"code": [JOIN_CODE_DISABLED]}
    assert mail.outbox == []


def test_turning_the_code_off_stops_the_links_it_gave_and_on_again_lets_them_work(
    world, client, section
):
    """A code is turned off to stop admissions: a link it gave out before then makes no
    account, and says why, until the code is turned on again."""
    _post(client, _signup(section))
    [link] = _links(mail.outbox[0])
    Cohort.objects.filter(pk=section.pk).update(join_code_enabled=False)
    for response in [client.get(_path(link)), _finish(client, link)]:
        html = response.content.decode()
        assert "This link cannot be used now" in html
        assert JOIN_CODE_DISABLED.replace("'", "&#x27;") in html
    assert not User.objects.filter(email="mei@example.edu").exists()
    Cohort.objects.filter(pk=section.pk).update(join_code_enabled=True)
    assert _finish(client, link).url == reverse("cases:home")
    assert section.memberships.filter(user__email="mei@example.edu").exists()


# Throttling ---------------------------------------------------------------------------


def test_wrong_codes_from_one_address_lock_sign_up_there_even_with_the_right_code(
    world, client, section, settings
):
    settings.JOIN_CODE_ADDRESS_LIMIT = 3
    for n in range(3):
        assert _post(client, _signup(section, code=f"WRONG{n}XY")).status_code == 200
    response = _post(client, _signup(section))
    assert response.status_code == 429
    errors = response.context["form"].errors
    assert list(errors) == ["code"]
    assert "Wait about 15 minutes" in errors["code"][0]
    assert 'value="mei@example.edu"' in response.content.decode()
    assert mail.outbox == []
    # Joining while signed in is refused from that address too; elsewhere all is well.
    member = User.objects.get(username="other_student")
    client.force_login(member)
    join = client.post(
        reverse("cases:cohort_join"), {"code": section.join_code}, REMOTE_ADDR="10.0.0.1"
    )
    assert join.status_code == 429
    client.logout()
    assert _post(client, _signup(section), address="10.0.0.2").url == reverse("cases:signup_sent")


def test_wrong_codes_lock_joining_for_that_account_from_anywhere(
    world, client_for, section, settings
):
    settings.JOIN_CODE_FAILURE_LIMIT = 3
    client = client_for("other_student")
    url = reverse("cases:cohort_join")
    for n, address in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        response = client.post(url, {"code": f"WRONG{n}XY"}, REMOTE_ADDR=address)
        assert JOIN_CODE_UNKNOWN in response.content.decode()
    response = client.post(url, {"code": section.join_code}, REMOTE_ADDR="10.0.0.4")
    assert response.status_code == 429
    assert "Too many wrong join codes" in " ".join(response.context["form"].errors["code"])
    assert not section.memberships.filter(user__username="other_student").exists()
    # Another account from the same addresses is not held back.
    client = client_for("student_ta_elsewhere")
    assert client.post(url, {"code": section.join_code}, REMOTE_ADDR="10.0.0.4").status_code == 302


def test_sign_ups_are_throttled_per_address_and_emails_per_inbox(world, client, section, settings):
    settings.SIGNUP_LIMIT = 2
    # Asking whether a username is taken counts too.
    assert _post(client, _signup(section, username="student")).status_code == 200
    assert _post(client, _signup(section, username="mei0")).status_code == 302
    assert _post(client, _signup(section, username="mei9")).status_code == 429
    # One inbox gets a few sign-up emails an hour, whoever asks and from wherever.
    for n in range(4):
        response = _post(client, _signup(section, username=f"lin{n}"), address=f"10.1.0.{n}")
        assert response.url == reverse("cases:signup_sent")
    assert len(mail.outbox) == 3
    assert {email.to[0] for email in mail.outbox} == {"mei@example.edu"}


def test_someone_signed_in_is_sent_to_join_instead(client_for):
    response = client_for("student").get(reverse("cases:signup"))
    assert response.url == reverse("cases:cohort_join")


def test_the_sign_in_page_links_to_sign_up(client):
    html = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("cases:signup")}"' in html
    assert "Have a join code? Create your account" in html


def test_a_deactivated_user_cannot_sign_in(world, client):
    student = world.users["student"]
    student.is_active = False
    student.save()
    response = client.post(reverse("login"), {"username": "student", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("cases:home")).status_code == 302
