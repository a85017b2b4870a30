"""The test platform itself, over real HTTP: what a tool would see from an LMS."""

import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from django.test import RequestFactory
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.grade import Grade
from pylti1p3.tool_config import ToolConfDict

from tests.lti.platform import (
    AGS_CLAIM,
    CLAIM,
    DL_CLAIM,
    INSTRUCTOR,
    LEARNER,
    NRPS_CLAIM,
    NRPS_TYPE,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_SCORE,
    SCORE_TYPE,
    TEACHING_ASSISTANT,
    Platform,
    member,
)

ADA = {
    "sub": "lms-ada",
    "name": "Ada Lovelace",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "email": "ada@uni.example",
}
BEN = {"sub": "lms-ben", "name": "Ben Okafor", "email": "ben@uni.example"}
COURSE = {"id": "course-6001", "label": "MGT 6001", "title": "Run of the Red Queen"}
LAUNCH_URL = "https://tool.example/lti/launch/"


@pytest.fixture(scope="module")
def tool():
    """The tool's keys: a second server whose /jwks and sign() stand for the tool's."""
    keys = Platform()
    yield keys
    keys.stop()


def _decode(token: str, platform: Platform) -> dict:
    jwks = requests.get(platform.jwks_url, timeout=5).json()
    key = jwt.PyJWKSet.from_dict(jwks)[platform.kid].key
    return jwt.decode(token, key, algorithms=["RS256"], audience=platform.client_id)


def _auth_params(platform: Platform, hint: str, **changes) -> dict:
    """The tool's OIDC authentication request, as PyLTI1p3 sends it."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": LAUNCH_URL,
        "state": "state-1",
        "nonce": "nonce-1",
        "login_hint": hint,
        "lti_message_hint": hint,
    }
    return params | changes


def _assertion(platform: Platform, tool: Platform, key=None, alg="RS256", **changes) -> str:
    """The JWT a tool signs to ask for an access token (its kid is the tool's)."""
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_url,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    return tool.sign({k: v for k, v in (claims | changes).items() if v is not None}, key, alg)


def _token_request(platform: Platform, assertion: str, scope: str) -> requests.Response:
    return requests.post(
        platform.token_url,
        timeout=5,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        },
    )


def _bearer(platform: Platform, tool: Platform, *scopes: str) -> dict:
    platform.tool_jwks_url = tool.jwks_url
    response = _token_request(platform, _assertion(platform, tool), " ".join(scopes))
    return {"Authorization": "Bearer " + response.json()["access_token"]}


def test_jwks_verifies_what_the_platform_signs_and_nothing_signed_by_another_key(lti_platform):
    assert _decode(lti_platform.sign({"aud": "red-queen-tool", "n": 1}), lti_platform)["n"] == 1

    forged = lti_platform.sign({"aud": "red-queen-tool"}, key=lti_platform.other_key())
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(forged, lti_platform)


def test_auth_posts_a_signed_launch_with_the_tools_nonce_to_the_registered_redirect_uri(
    lti_platform,
):
    lti_platform.redirect_uris = [LAUNCH_URL]
    hint = lti_platform.resource_launch(
        ADA, COURSE, [LEARNER], "link-1", LAUNCH_URL, custom={"item": "7"}
    )

    action, fields = lti_platform.follow_auth(
        lti_platform.auth_url + "?" + urlencode(_auth_params(lti_platform, hint))
    )

    assert action == LAUNCH_URL
    assert fields["state"] == "state-1"
    claims = _decode(fields["id_token"], lti_platform)
    assert claims["nonce"] == "nonce-1"
    assert claims["iss"] == lti_platform.issuer
    assert claims["sub"] == "lms-ada"
    assert claims["email"] == "ada@uni.example"
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    assert claims[CLAIM + "deployment_id"] == "deployment-1"
    assert claims[CLAIM + "roles"] == [LEARNER]
    assert claims[CLAIM + "resource_link"]["id"] == "link-1"
    assert claims[CLAIM + "context"]["label"] == "MGT 6001"
    assert claims[CLAIM + "custom"] == {"item": "7"}
    assert claims[NRPS_CLAIM]["context_memberships_url"].startswith(lti_platform.url)
    assert SCOPE_SCORE in claims[AGS_CLAIM]["scope"]


def test_the_auth_page_submits_itself_and_offers_a_button_when_scripts_do_not_run(lti_platform):
    lti_platform.redirect_uris = [LAUNCH_URL]
    hint = lti_platform.deep_linking_launch(BEN, COURSE, [INSTRUCTOR])

    page = requests.post(lti_platform.auth_url, data=_auth_params(lti_platform, hint), timeout=5)

    assert "<script>document.forms[0].submit()</script>" in page.text
    assert '<button type="submit">' in page.text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"redirect_uri": "https://evil.example/steal"}, "redirect_uri is not registered"),
        ({"client_id": "someone-else"}, "unknown client_id"),
        ({"login_hint": "made-up", "lti_message_hint": "made-up"}, "no such launch"),
        ({"response_mode": "query"}, "response_mode must be 'form_post'"),
    ],
)
def test_auth_refuses_a_request_it_cannot_trust_and_signs_nothing(lti_platform, change, reason):
    lti_platform.redirect_uris = [LAUNCH_URL]
    hint = lti_platform.resource_launch(ADA, COURSE, [LEARNER], "link-1", LAUNCH_URL)

    response = requests.get(
        lti_platform.auth_url, params=_auth_params(lti_platform, hint) | change, timeout=5
    )

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert "id_token" not in response.text


def test_the_token_endpoint_grants_the_scopes_asked_for_to_the_tool(lti_platform, tool):
    lti_platform.tool_jwks_url = tool.jwks_url

    response = _token_request(
        lti_platform,
        _assertion(lti_platform, tool),
        f"{SCOPE_NRPS} {SCOPE_SCORE} https://example.com/unknown",
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["expires_in"] == 3600
    assert response.json()["scope"].split() == sorted([SCOPE_NRPS, SCOPE_SCORE])


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p, t: _assertion(p, t, key=t.other_key()), id="another-key"),
        pytest.param(lambda p, t: _assertion(p, t, aud=p.url), id="wrong-audience"),
        pytest.param(lambda p, t: _assertion(p, t, iss="someone"), id="wrong-issuer"),
        pytest.param(lambda p, t: _assertion(p, t, sub="someone"), id="wrong-subject"),
        pytest.param(lambda p, t: _assertion(p, t, exp=int(time.time()) - 10), id="expired"),
        pytest.param(lambda p, t: _assertion(p, t, jti=None), id="no-jti"),
        pytest.param(lambda p, t: _assertion(p, t, alg="none"), id="alg-none"),
    ],
)
def test_the_token_endpoint_refuses_a_bad_client_assertion(lti_platform, tool, forge):
    lti_platform.tool_jwks_url = tool.jwks_url

    response = _token_request(lti_platform, forge(lti_platform, tool), SCOPE_SCORE)

    assert response.status_code in (400, 401)
    assert lti_platform.tokens == {}


def test_the_token_endpoint_refuses_a_replayed_client_assertion(lti_platform, tool):
    lti_platform.tool_jwks_url = tool.jwks_url
    assertion = _assertion(lti_platform, tool)

    assert _token_request(lti_platform, assertion, SCOPE_SCORE).status_code == 200
    assert _token_request(lti_platform, assertion, SCOPE_SCORE).status_code == 401


def test_memberships_serve_the_roster_the_test_sets_and_follow_its_changes(lti_platform, tool):
    headers = _bearer(lti_platform, tool, SCOPE_NRPS)
    lti_platform.resource_launch(ADA, COURSE, [LEARNER], "link-1", LAUNCH_URL)
    url = f"{lti_platform.url}/contexts/course-6001/memberships"
    lti_platform.members["course-6001"] = [member(ADA, [LEARNER]), member(BEN, [INSTRUCTOR])]

    first = requests.get(url, headers=headers, timeout=5)
    lti_platform.members["course-6001"][0] = member(ADA, [TEACHING_ASSISTANT])
    lti_platform.members["course-6001"][1]["status"] = "Deleted"
    second = requests.get(url, headers=headers, timeout=5).json()

    assert first.headers["Content-Type"] == NRPS_TYPE
    assert first.json()["context"]["title"] == "Run of the Red Queen"
    assert first.json()["members"][0] == {
        "user_id": "lms-ada",
        "roles": [LEARNER],
        "status": "Active",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@uni.example",
    }
    assert [(m["user_id"], m["roles"], m["status"]) for m in second["members"]] == [
        ("lms-ada", [TEACHING_ASSISTANT], "Active"),
        ("lms-ben", [INSTRUCTOR], "Deleted"),
    ]


def test_memberships_come_in_pages_linked_by_rel_next(lti_platform, tool):
    headers = _bearer(lti_platform, tool, SCOPE_NRPS)
    lti_platform.members["course-6001"] = [member(ADA, [LEARNER]), member(BEN, [LEARNER])]
    lti_platform.page_size = 1

    first = requests.get(
        f"{lti_platform.url}/contexts/course-6001/memberships", headers=headers, timeout=5
    )
    second = requests.get(first.links["next"]["url"], headers=headers, timeout=5)

    assert [m["user_id"] for m in first.json()["members"]] == ["lms-ada"]
    assert [m["user_id"] for m in second.json()["members"]] == ["lms-ben"]
    assert "next" not in second.links


def test_services_refuse_a_missing_or_narrower_token(lti_platform, tool):
    url = f"{lti_platform.url}/contexts/course-6001/memberships"
    score_only = _bearer(lti_platform, tool, SCOPE_SCORE)

    assert requests.get(url, timeout=5).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": "Bearer guess"}, timeout=5).status_code == 401
    )
    assert requests.get(url, headers=score_only, timeout=5).status_code == 403


def test_line_items_are_created_found_by_resource_link_and_scored(lti_platform, tool):
    headers = _bearer(lti_platform, tool, SCOPE_LINEITEM, SCOPE_SCORE)
    lineitems = f"{lti_platform.url}/contexts/course-6001/lineitems"
    created = requests.post(
        lineitems,
        headers=headers,
        timeout=5,
        json={
            "scoreMaximum": 10,
            "label": "Reading check",
            "resourceLinkId": "link-1",
            "tag": "quiz",
        },
    ).json()
    score = {
        "userId": "lms-ada",
        "scoreGiven": 7,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-03-02T10:00:00+00:00",
    }

    found = requests.get(
        lineitems, params={"resource_link_id": "link-1"}, headers=headers, timeout=5
    ).json()
    for _ in range(2):
        posted = requests.post(
            created["id"] + "/scores",
            json=score,
            timeout=5,
            headers=headers | {"Content-Type": SCORE_TYPE},
        )
        assert posted.status_code == 204

    assert created["id"].startswith(lineitems + "/")
    assert found == [created]
    assert lti_platform.scores == [(created["id"], score), (created["id"], score)]


def test_a_score_needs_the_score_media_type_and_its_fields(lti_platform, tool):
    headers = _bearer(lti_platform, tool, SCOPE_SCORE)
    url = lti_platform.add_lineitem("course-6001", label="Thesis", scoreMaximum=20)

    as_json = requests.post(url + "/scores", json={"userId": "lms-ada"}, headers=headers, timeout=5)
    incomplete = requests.post(
        url + "/scores",
        json={"userId": "lms-ada", "scoreGiven": 3},
        headers=headers | {"Content-Type": SCORE_TYPE},
        timeout=5,
    )

    assert as_json.status_code == 415
    assert incomplete.status_code == 400
    assert lti_platform.scores == []


def test_the_deep_link_return_records_the_tools_items_and_shows_them(lti_platform, tool):
    lti_platform.tool_jwks_url = tool.jwks_url
    hint = lti_platform.deep_linking_launch(BEN, COURSE, [INSTRUCTOR])
    settings = lti_platform.claims(hint, "n")[DL_CLAIM + "deep_linking_settings"]
    claims = {
        "iss": lti_platform.client_id,
        "aud": [lti_platform.issuer],
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "nonce": "n",
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": lti_platform.deployment_id,
        DL_CLAIM + "data": settings["data"],
        DL_CLAIM + "content_items": [
            {"type": "ltiResourceLink", "title": "Quiz <1>", "url": LAUNCH_URL}
        ],
    }

    placed = requests.post(
        lti_platform.deep_link_return_url, data={"JWT": tool.sign(claims)}, timeout=5
    )
    unechoed = requests.post(
        lti_platform.deep_link_return_url,
        data={"JWT": tool.sign(claims | {DL_CLAIM + "data": "x"})},
        timeout=5,
    )
    refused = requests.post(
        lti_platform.deep_link_return_url,
        timeout=5,
        data={"JWT": tool.sign(claims | {"aud": "https://other.example"})},
    )

    assert placed.status_code == 200
    assert "<li>Quiz &lt;1&gt;</li>" in placed.text
    assert refused.status_code == 401
    assert unechoed.status_code == 400
    assert [c[DL_CLAIM + "content_items"][0]["title"] for c in lti_platform.deep_links] == [
        "Quiz <1>"
    ]


def test_tokens_built_for_attacks_say_what_the_test_asked(lti_platform):
    hint = lti_platform.resource_launch(ADA, COURSE, [LEARNER], "link-1", LAUNCH_URL)

    unknown_deployment = lti_platform.id_token(hint, "n", deployment_id="nope", email=None)
    promoted = Platform.tamper(lti_platform.id_token(hint, "n"), roles=[INSTRUCTOR])

    claims = _decode(unknown_deployment, lti_platform)
    assert claims[CLAIM + "deployment_id"] == "nope"
    assert "email" not in claims
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(promoted, lti_platform)
    assert jwt.decode(promoted, options={"verify_signature": False})[CLAIM + "roles"] == [
        INSTRUCTOR
    ]


def _pylti1p3_launch(platform: Platform, tool: Platform, hint: str) -> DjangoMessageLaunch:
    """A launch validated by PyLTI1p3, the library Red Queen's tool is built on, with the
    tool's key from `tool`: login initiation, the platform's /auth, the signed id_token."""
    private_pem = tool.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        tool.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    registration = {
        "default": True,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_url,
        "auth_token_url": platform.token_url,
        "key_set_url": platform.jwks_url,
        "deployment_ids": [platform.deployment_id],
    }
    conf = ToolConfDict({platform.issuer: [registration]})
    conf.set_private_key(platform.issuer, private_pem, client_id=platform.client_id)
    conf.set_public_key(platform.issuer, public_pem, client_id=platform.client_id)
    platform.tool_jwks = conf.get_jwks(platform.issuer, platform.client_id)
    platform.redirect_uris = [LAUNCH_URL]
    session: dict = {}

    login = RequestFactory().get("/lti/init/", platform.login_initiation_params(hint, LAUNCH_URL))
    login.session = session
    redirect = DjangoOIDCLogin(login, conf).redirect(LAUNCH_URL)
    assert parse_qs(urlsplit(redirect["Location"]).query)["lti_message_hint"] == [hint]
    action, fields = platform.follow_auth(redirect["Location"])
    launch_request = RequestFactory().post(urlsplit(action).path, fields)
    launch_request.session = session
    launch_request.COOKIES = {name: morsel.value for name, morsel in redirect.cookies.items()}
    return DjangoMessageLaunch(launch_request, conf).validate()


def test_pylti1p3_accepts_a_launch_and_uses_the_roster_and_the_gradebook(lti_platform, tool):
    lti_platform.members["course-6001"] = [member(ADA, [LEARNER])]
    lineitem = lti_platform.add_lineitem("course-6001", label="Quiz", scoreMaximum=10)
    hint = lti_platform.resource_launch(
        ADA, COURSE, [LEARNER], "link-1", LAUNCH_URL, lineitem=lineitem
    )
    grade = (
        Grade()
        .set_score_given(8)
        .set_score_maximum(10)
        .set_user_id("lms-ada")
        .set_timestamp("2026-03-02T10:00:00+00:00")
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
    )

    launch = _pylti1p3_launch(lti_platform, tool, hint)
    members = launch.get_nrps().get_members()
    launch.get_ags().put_grade(grade)

    assert launch.is_resource_launch()
    assert launch.get_launch_data()["sub"] == "lms-ada"
    assert [m["user_id"] for m in members] == ["lms-ada"]
    assert [(url, score["scoreGiven"]) for url, score in lti_platform.scores] == [(lineitem, 8)]


def test_pylti1p3_places_a_deep_link_the_platform_accepts(lti_platform, tool):
    hint = lti_platform.deep_linking_launch(BEN, COURSE, [INSTRUCTOR])

    launch = _pylti1p3_launch(lti_platform, tool, hint)
    resource = DeepLinkResource().set_url(LAUNCH_URL + "?item=7").set_title("Reading check")
    response = requests.post(
        lti_platform.deep_link_return_url,
        data={"JWT": launch.get_deep_link().get_response_jwt([resource])},
        timeout=5,
    )

    assert launch.is_deep_link_launch()
    assert response.status_code == 200
    assert "<li>Reading check</li>" in response.text
    assert lti_platform.deep_links[0][DL_CLAIM + "content_items"][0]["url"].endswith("?item=7")
