from html.parser import HTMLParser

import pytest

from cases.services.discussions import render_post
from tests.xss_corpus import FORBIDDEN_TAGS, PAYLOADS

SAFE_URL_STARTS = ("http://", "https://", "mailto:", "/library/")


class Elements(HTMLParser):
    """The real elements and attributes of a fragment (escaped text is just text)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


@pytest.mark.django_db
@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives_in_the_rendered_post(payload, world):
    html, _cited = render_post(f"Before {payload} after ¶2.", world.case, {2})
    assert_harmless(html)


def assert_harmless(html: str) -> None:
    """User text as rendered: no forbidden element, no script-bearing attribute, only
    safe links, and external ones that pass no referrer or rank."""
    parser = Elements()
    parser.feed(html)
    forbidden = {tag.strip("<") for tag in FORBIDDEN_TAGS}
    for tag, attrs in parser.found:
        assert tag not in forbidden, tag
        for name, value in attrs:
            assert not name.startswith(("on", "hx-", "data-hx", "style", "id", "name", "src")), name
            if name == "href":
                assert (value or "").startswith(SAFE_URL_STARTS), value
            if tag == "a" and name == "rel":
                assert "noopener" in value and "nofollow" in value


@pytest.mark.django_db
def test_external_links_get_noopener_noreferrer_nofollow(world):
    html, _cited = render_post("[site](https://example.org)", world.case, set())
    assert 'rel="noopener noreferrer nofollow"' in html
