"""Every signed-in page's header (templates/jinja2/layout/site_header.jinja): the links
each role is given, the page it marks as current, the bell, and the account's sign-out,
drawn once for wide screens and once in a phone's menu."""

import re

from django.test import Client
from django.urls import reverse

from tests.factories import CohortFactory, CourseFactory, MembershipFactory, UserFactory

WIDE = re.compile(r'<nav class="site-nav site-nav--wide" aria-label="Main">(.*?)</nav>', re.S)
MENU = re.compile(r'<nav class="site-nav" aria-label="Main, on a small screen">(.*?)</nav>', re.S)
LINK = re.compile(r'<li><a href="([^"]+)"( aria-current="page")?>([^<]+)</a></li>')


def header_links(html: str) -> list[tuple[str, str, bool]]:
    """The header's links as (label, address, current), the same in both navigations."""
    wide, menu = WIDE.search(html).group(1), MENU.search(html).group(1)
    links = [(label, href, bool(current)) for href, current, label in LINK.findall(wide)]
    assert links == [(label, href, bool(c)) for href, c, label in LINK.findall(menu)]
    return links


def test_each_role_is_given_its_links_and_the_page_it_is_on_is_marked(world, client_for):
    home, library = reverse("cases:home"), reverse("cases:case_list")
    teaching = reverse("cases:instructor_dashboard")

    page = client_for("student").get(home).content.decode()
    assert header_links(page) == [("Dashboard", home, True), ("Case library", library, False)]
    page = client_for("student").get(library).content.decode()
    assert header_links(page) == [("Dashboard", home, False), ("Case library", library, True)]

    for role in ("instructor", "ta"):
        page = client_for(role).get(teaching).content.decode()
        assert header_links(page) == [
            ("Dashboard", home, False),
            ("Case library", library, False),
            ("Teaching", teaching, True),
        ]

    page = client_for("admin").get(reverse("cases:audit_log")).content.decode()
    assert [(label, current) for label, _href, current in header_links(page)] == [
        ("Dashboard", False),
        ("Case library", False),
        ("Teaching", False),
        ("Cohorts", False),
        ("People", False),
        ("Audit log", True),
        ("Admin", False),
    ]


def test_a_student_made_a_teaching_assistant_is_given_the_teaching_link_on_the_next_page(db):
    student = UserFactory(username="learner", first_name="Lin", last_name="Wei")
    cohort = CohortFactory()
    MembershipFactory(cohort=cohort, user=student)
    CourseFactory(cohorts=[cohort])
    client = Client()
    client.force_login(student)
    assert "Teaching" not in [label for label, *_ in header_links(client.get("/").content.decode())]

    CourseFactory(code="MGT 8003", teaching_assistants=[student])
    labels = [label for label, *_ in header_links(client.get("/").content.decode())]
    assert labels == ["Dashboard", "Case library", "Teaching"]


def test_a_page_not_found_keeps_the_header_and_marks_no_link(world, client_for):
    response = client_for("student").get("/no-such-page/")
    assert response.status_code == 404
    assert not any(current for *_, current in header_links(response.content.decode()))


def test_the_headers_sign_out_works_from_either_form_with_its_token(world):
    """Both of the header's sign-out forms (wide, and the phone's menu) carry the page's
    token: the post, checked as a browser's would be, signs the student out."""
    client = Client(enforce_csrf_checks=True)
    for form in range(2):
        client.force_login(world.users["student"])
        page = client.get("/").content.decode()
        assert page.count(world.users["student"].display_name) >= 2
        tokens = re.findall(
            r'action="/logout/" class="inline-form">\s*'
            r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">',
            page,
        )
        assert len(tokens) == 2
        response = client.post(reverse("logout"), {"csrfmiddlewaretoken": tokens[form]})
        assert response.status_code == 302
        assert client.get("/").status_code == 302  # Signed out: sent to sign in.


def test_the_bell_is_drawn_without_a_count_and_its_poll_brings_the_count(world, client_for):
    from cases.models import Notification, NotificationKind

    client = client_for("student")
    page = client.get("/").content.decode()
    bell = reverse("cases:notification_bell")
    assert page.count(f'hx-get="{bell}" hx-trigger="load, every 30s"') == 1
    Notification.objects.create(
        user=world.users["student"],
        course=world.course,
        kind=NotificationKind.choices[0][0],
        title="Grades released",
        url="/",
    )
    polled = client.get(bell, headers={"HX-Request": "true"})
    assert 'aria-label="Notifications: 1 unread"' in polled.content.decode()
    again = client.get(bell, headers={"If-None-Match": polled["ETag"]})
    assert again.status_code == 304


def test_each_user_sees_their_own_name_and_token_in_a_header_drawn_once_for_all(db):
    """The header is drawn once a process for each role and page, the user's name and
    token put in as it is served: two students in turn, each sees only their own name
    (escaped), each page's token is the one its forms post, and a new name shows on
    the next page."""
    cohort = CohortFactory()
    CourseFactory(cohorts=[cohort])
    users = [
        UserFactory(username="ada", first_name="Ada", last_name="<b>Lovelace</b>"),
        UserFactory(username="bo", first_name="Bo", last_name="O'Hara & Sons"),
    ]
    clients = []
    for user in users:
        MembershipFactory(cohort=cohort, user=user)
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        clients.append(client)
    shown = {"ada": "Ada &lt;b&gt;Lovelace&lt;/b&gt;", "bo": "Bo O&#x27;Hara &amp; Sons"}
    for _ in range(2):
        for user, client in zip(users, clients, strict=True):
            page = client.get("/").content.decode()
            other = next(u.username for u in users if u != user)
            assert page.count(shown[user.username]) == 2
            assert shown[other] not in page and "<b>Lovelace" not in page
            tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
            header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
            assert tokens == {header_token}
    users[1].first_name = "Bea"
    users[1].save()
    page = clients[1].get(reverse("cases:case_list")).content.decode()
    assert page.count("Bea O&#x27;Hara &amp; Sons") == 2 and "Bo O&#x27;Hara" not in page
    response = clients[1].post(reverse("logout"), {"csrfmiddlewaretoken": header_token})
    assert response.status_code == 302
