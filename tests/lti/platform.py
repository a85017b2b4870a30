"""A small but real LTI 1.3 Advantage platform (the LMS side) for tests to launch from.

It runs on a local port and speaks HTTP as an LMS does: it serves its JWKS, answers the
tool's OIDC authentication request with an auto-submitting form carrying a signed
`id_token`, grants OAuth2 tokens to a tool that proves itself with a JWT signed by a key
from the tool's JWKS, and serves Names and Role Provisioning, Assignment and Grade
Services and the Deep Linking return. Nothing in it imports Red Queen: the tool is
tested against the specifications, not against a mock of itself.
"""

import base64
import html
import json
import re
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TEACHING_ASSISTANT = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
)
ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"

AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM = AGS_SCOPE + "lineitem"
SCOPE_LINEITEM_READONLY = AGS_SCOPE + "lineitem.readonly"
SCOPE_RESULT_READONLY = AGS_SCOPE + "result.readonly"
SCOPE_SCORE = AGS_SCOPE + "score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPES = {SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE, SCOPE_NRPS}

NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
HTML = "text/html; charset=utf-8"
JSON = "application/json"
PAGE_HEAD = '<!doctype html><html lang="en"><meta charset="utf-8"><link rel="icon" href="data:,">'
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REGISTERED_CLAIMS = {"iss", "sub", "aud", "azp", "iat", "exp", "nbf", "nonce", "jti"}
USER_CLAIMS = ("name", "given_name", "family_name", "email")


class Refused(Exception):
    """A request the platform answers with an error status and a short reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def member(user: dict, roles: list[str], status: str = "Active") -> dict:
    """An NRPS member for `user` (a dict with `sub` and optional name and email claims)."""
    return {"user_id": user["sub"], "roles": roles, "status": status} | {
        key: user[key] for key in USER_CLAIMS if key in user
    }


def _claim_name(key: str) -> str:
    """`roles` means the LTI roles claim; registered claims and full URIs stay as given."""
    if key in REGISTERED_CLAIMS or key in USER_CLAIMS or key.startswith("http"):
        return key
    return CLAIM + key


def _apply(claims: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if value is None:
            claims.pop(_claim_name(key), None)
        else:
            claims[_claim_name(key)] = value
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Platform:
    """An LTI 1.3 platform on 127.0.0.1; `reset()` forgets everything tests configured."""

    client_id = "red-queen-tool"
    deployment_id = "deployment-1"

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-" + secrets.token_hex(4)
        self._other_key = None
        self._lock = threading.Lock()
        self.reset()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.platform = self
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url
        self.auth_url, self.token_url = self.url + "/auth", self.url + "/token"
        self.jwks_url = self.url + "/jwks"
        self.deep_link_return_url = self.url + "/deep-link-return"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.redirect_uris: list[str] = []
        self.tool_jwks_url: str | None = None
        self.tool_jwks: dict | None = None  # Or the tool's JWKS itself, when it has no URL.
        self.members: dict[str, list[dict]] = {}
        self.page_size: int | None = None  # NRPS pages of this size, linked by rel="next".
        self.lineitems: dict[str, dict] = {}
        self.scores: list[tuple[str, dict]] = []
        self.scores_down = False  # The gradebook answers 503, as an LMS down for a night.
        self.deep_links: list[dict] = []
        self.launches: dict[str, dict] = {}
        self.contexts: dict[str, dict] = {}
        self.tokens: dict[str, set[str]] = {}
        self._jtis: set[str] = set()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        public.pop("key_ops", None)
        return {"keys": [public | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def other_key(self) -> rsa.RSAPrivateKey:
        """A second RSA key, not in the platform's JWKS, for forged tokens."""
        if self._other_key is None:
            self._other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._other_key

    # Launches: the platform decides what a launch says.

    def resource_launch(
        self,
        user: dict,
        context: dict,
        roles: list[str],
        resource_link_id: str,
        target_link_uri: str,
        custom: dict | None = None,
        lineitem: str | None = None,
        title: str | None = None,
    ) -> str:
        """Registers a resource link launch; returns its login_hint and lti_message_hint."""
        claims = self._launch_claims(user, context, roles, "LtiResourceLinkRequest")
        claims[CLAIM + "target_link_uri"] = target_link_uri
        claims[CLAIM + "resource_link"] = {"id": resource_link_id} | (
            {"title": title} if title else {}
        )
        if custom:
            claims[CLAIM + "custom"] = custom
        if lineitem:
            claims[AGS_CLAIM]["lineitem"] = lineitem
        return self._pend(claims)

    def deep_linking_launch(
        self,
        user: dict,
        context: dict,
        roles: list[str],
        target_link_uri: str | None = None,
        accept_multiple: bool = True,
    ) -> str:
        """Registers a deep linking request (target_link_uri defaults to the redirect_uri);
        `accept_multiple=False` as Canvas's Assignment Selection asks for one item."""
        claims = self._launch_claims(user, context, roles, "LtiDeepLinkingRequest")
        if target_link_uri:
            claims[CLAIM + "target_link_uri"] = target_link_uri
        claims[DL_CLAIM + "deep_linking_settings"] = {
            "deep_link_return_url": self.deep_link_return_url,
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": accept_multiple,
            "auto_create": True,
            "data": "dl-" + secrets.token_hex(4),
        }
        return self._pend(claims)

    def login_initiation_params(self, hint: str, target_link_uri: str) -> dict:
        """What the LMS sends to the tool's OIDC login initiation URL."""
        return {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": target_link_uri,
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }

    def claims(self, hint: str, nonce: str, **overrides) -> dict:
        """The id_token's claims for a pending launch; a None override drops a claim."""
        now = int(time.time())
        claims = json.loads(json.dumps(self.launches[hint]))
        claims |= {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        return _apply(claims, overrides)

    def id_token(
        self, hint: str, nonce: str, key=None, alg="RS256", headers=None, **overrides
    ) -> str:
        return self.sign(self.claims(hint, nonce, **overrides), key, alg, headers)

    def sign(self, payload: dict, key=None, alg: str = "RS256", headers=None) -> str:
        """Signs as the platform, or with `key`; `alg="none"` makes an unsigned token."""
        headers = {"kid": self.kid} if headers is None else headers
        key = None if alg == "none" else (key or self.key)
        return jwt.encode(payload, key, algorithm=alg, headers=headers)

    @staticmethod
    def tamper(token: str, **changes) -> str:
        """The token with its claims edited after signing: the signature no longer fits."""
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return ".".join((header, _b64(json.dumps(_apply(claims, changes)).encode()), signature))

    def follow_auth(self, url: str) -> tuple[str, dict]:
        """GETs the auth URL the tool redirected to; the form's action and fields."""
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', response.text)[1])
        fields = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', response.text)
        return action, {name: html.unescape(value) for name, value in fields}

    def add_lineitem(self, context_id: str, **fields) -> str:
        """A line item the LMS made itself (an assignment in the gradebook); its URL."""
        with self._lock:
            url = f"{self._context_url(context_id)}/lineitems/{len(self.lineitems) + 1}"
            self.lineitems[url] = (
                {"scoreMaximum": 100, "label": "Assignment"} | fields | {"id": url}
            )
        return url

    def verify_tool_jwt(self, token: str, audience: str) -> dict:
        """Claims of a JWT the tool signed with a key from its JWKS, or Refused."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            jwks = self.tool_jwks or requests.get(self.tool_jwks_url, timeout=10).json()
            keys = [k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid]
            if not keys:
                raise Refused(HTTPStatus.UNAUTHORIZED, f"no key {kid!r} in the tool's JWKS")
            return jwt.decode(
                token,
                keys[0].key,
                algorithms=["RS256"],
                audience=audience,
                issuer=self.client_id,
                options={"require": ["exp", "iat"]},
            )
        except (jwt.PyJWTError, requests.RequestException, TypeError) as error:
            raise Refused(HTTPStatus.UNAUTHORIZED, f"bad tool JWT: {error}") from error

    def _launch_claims(self, user: dict, context: dict, roles: list[str], message_type: str):
        self.contexts[context["id"]] = context
        context_url = self._context_url(context["id"])
        return {
            "sub": user["sub"],
            **{key: user[key] for key in USER_CLAIMS if key in user},
            CLAIM + "message_type": message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "roles": list(roles),
            CLAIM + "context": {"type": [COURSE_OFFERING]} | context,
            CLAIM + "tool_platform": {"guid": "red-queen-test-lms", "name": "Test LMS"},
            CLAIM + "launch_presentation": {"document_target": "iframe"},
            NRPS_CLAIM: {
                "context_memberships_url": context_url + "/memberships",
                "service_versions": ["2.0"],
            },
            AGS_CLAIM: {
                "scope": sorted(SCOPES - {SCOPE_NRPS}),
                "lineitems": context_url + "/lineitems",
            },
        }

    def _pend(self, claims: dict) -> str:
        hint = secrets.token_urlsafe(12)
        self.launches[hint] = claims
        return hint

    def _context_url(self, context_id: str) -> str:
        return f"{self.url}/contexts/{quote(context_id, safe='')}"

    # HTTP endpoints: each returns (status, content type, body) or raises Refused.

    def handle(self, method: str, path: str, params: dict, headers, body: bytes):
        if path == "/jwks" and method == "GET":
            return 200, JSON, self.jwks()
        if path == "/auth":
            return self._authorize(params)
        if path == "/token" and method == "POST":
            return self._grant(params)
        if path == "/deep-link-return" and method == "POST":
            return self._deep_link_return(params)
        match = re.fullmatch(r"/contexts/([^/]+)/(memberships|lineitems)(?:/(\d+))?(/\w+)?", path)
        if not match:
            raise Refused(HTTPStatus.NOT_FOUND, "no such endpoint")
        context_id, service, number, tail = unquote(match[1]), match[2], match[3], match[4]
        if service == "memberships" and not number and method == "GET":
            self._authorize_bearer(headers, {SCOPE_NRPS})
            return self._memberships(context_id, params)
        if service == "lineitems" and not number and method in ("GET", "POST"):
            return self._lineitems(method, context_id, params, headers, body)
        url = f"{self._context_url(context_id)}/lineitems/{number}"
        if number and url not in self.lineitems:
            raise Refused(HTTPStatus.NOT_FOUND, "no such line item")
        if number and not tail and method in ("GET", "PUT"):
            return self._lineitem(method, url, headers, body)
        if number and tail == "/scores" and method == "POST":
            return self._score(url, headers, body)
        if number and tail == "/results" and method == "GET":
            self._authorize_bearer(headers, {SCOPE_RESULT_READONLY})
            return 200, RESULTS_TYPE, self._results(url)
        raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed here")

    def _authorize(self, params: dict):
        openid = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post"}
        for name, value in (openid | {"prompt": "none"}).items():
            if params.get(name) != value:
                raise Refused(HTTPStatus.BAD_REQUEST, f"{name} must be {value!r}")
        if params.get("client_id") != self.client_id:
            raise Refused(HTTPStatus.BAD_REQUEST, "unknown client_id")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri not in self.redirect_uris:
            raise Refused(HTTPStatus.BAD_REQUEST, "redirect_uri is not registered")
        hint = params.get("lti_message_hint") or params.get("login_hint")
        if hint not in self.launches or params.get("login_hint") != hint:
            raise Refused(HTTPStatus.BAD_REQUEST, "no such launch for this login_hint")
        if not params.get("nonce"):
            raise Refused(HTTPStatus.BAD_REQUEST, "nonce is required")
        claims = self.claims(hint, params["nonce"])
        claims.setdefault(CLAIM + "target_link_uri", redirect_uri)
        fields = {"id_token": self.sign(claims), "state": params.get("state", "")}
        inputs = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in fields.items()
        )
        page = (
            f'<title>Launching</title><form method="post" action="{html.escape(redirect_uri)}">'
            f'{inputs}<button type="submit">Continue to the tool</button></form>'
            "<script>document.forms[0].submit()</script>"
        )
        return 200, HTML, page

    def _grant(self, params: dict):
        if params.get("grant_type") != "client_credentials":
            raise Refused(HTTPStatus.BAD_REQUEST, "unsupported_grant_type")
        if params.get("client_assertion_type") != JWT_BEARER:
            raise Refused(HTTPStatus.BAD_REQUEST, "client_assertion_type must be jwt-bearer")
        claims = self.verify_tool_jwt(params.get("client_assertion", ""), self.token_url)
        if claims.get("sub") != self.client_id:
            raise Refused(HTTPStatus.UNAUTHORIZED, "sub must be the client_id")
        if not claims.get("jti"):
            raise Refused(HTTPStatus.UNAUTHORIZED, "a client assertion needs a jti")
        with self._lock:
            if claims["jti"] in self._jtis:
                raise Refused(HTTPStatus.UNAUTHORIZED, "client assertion replayed")
            self._jtis.add(claims["jti"])
        scopes = set(params.get("scope", "").split()) & SCOPES
        if not scopes:
            raise Refused(HTTPStatus.BAD_REQUEST, "invalid_scope")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = scopes
        grant = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return 200, JSON, grant | {"scope": " ".join(sorted(scopes))}

    def _authorize_bearer(self, headers, needs_one_of: set[str]) -> None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            raise Refused(HTTPStatus.UNAUTHORIZED, "a bearer token from /token is required")
        if not self.tokens[token] & needs_one_of:
            raise Refused(HTTPStatus.FORBIDDEN, "the token lacks the scope")

    def _memberships(self, context_id: str, params: dict):
        members = self.members.get(context_id, [])
        start = int(params.get("offset", 0))
        end = start + self.page_size if self.page_size else len(members)
        container = {
            "id": f"{self._context_url(context_id)}/memberships",
            "context": self.contexts.get(context_id, {"id": context_id}),
            "members": members[start:end],
        }
        link = f'<{container["id"]}?offset={end}>; rel="next"' if end < len(members) else None
        return 200, NRPS_TYPE, container, {"Link": link} if link else {}

    def _lineitems(self, method: str, context_id: str, params: dict, headers, body: bytes):
        if method == "GET":
            self._authorize_bearer(headers, {SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY})
            prefix = self._context_url(context_id) + "/lineitems/"
            filters = {
                "resourceLinkId": params.get("resource_link_id"),
                "resourceId": params.get("resource_id"),
                "tag": params.get("tag"),
            }
            found = [
                item
                for url, item in self.lineitems.items()
                if url.startswith(prefix)
                and all(v is None or item.get(k) == v for k, v in filters.items())
            ]
            return 200, LINEITEMS_TYPE, found
        self._authorize_bearer(headers, {SCOPE_LINEITEM})
        fields = self._json(body)
        maximum = fields.get("scoreMaximum")
        if not fields.get("label") or not isinstance(maximum, int | float) or maximum <= 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "a line item needs a label and scoreMaximum > 0")
        url = self.add_lineitem(context_id, **fields)
        return 201, LINEITEM_TYPE, self.lineitems[url]

    def _lineitem(self, method: str, url: str, headers, body: bytes):
        if method == "PUT":
            self._authorize_bearer(headers, {SCOPE_LINEITEM})
            self.lineitems[url] = self.lineitems[url] | self._json(body) | {"id": url}
        else:
            self._authorize_bearer(headers, {SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY})
        return 200, LINEITEM_TYPE, self.lineitems[url]

    def _score(self, url: str, headers, body: bytes):
        self._authorize_bearer(headers, {SCOPE_SCORE})
        if self.scores_down:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "the gradebook is down")
        if (headers.get("Content-Type") or "").split(";")[0] != SCORE_TYPE:
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"a score is {SCORE_TYPE}")
        score = self._json(body)
        required = ["userId", "timestamp", "activityProgress", "gradingProgress"]
        required += ["scoreMaximum"] if "scoreGiven" in score else []
        if missing := [name for name in required if name not in score]:
            raise Refused(HTTPStatus.BAD_REQUEST, f"a score needs {', '.join(missing)}")
        with self._lock:
            self.scores.append((url, score))
        return 204, None, None

    def _results(self, url: str) -> list[dict]:
        latest = {}  # A score older than the one on record does not replace it (AGS 2.0).
        for scored_url, score in self.scores:
            on_record = latest.get(score["userId"], {"timestamp": ""})
            if scored_url == url and score["timestamp"] >= on_record["timestamp"]:
                latest[score["userId"]] = score
        results = [
            {
                "id": f"{url}/results/{user_id}",
                "scoreOf": url,
                "userId": user_id,
                "resultScore": score.get("scoreGiven"),
                "resultMaximum": score.get("scoreMaximum"),
            }
            for user_id, score in latest.items()
        ]
        return [{k: v for k, v in result.items() if v is not None} for result in results]

    def _deep_link_return(self, params: dict):
        claims = self.verify_tool_jwt(params.get("JWT", ""), self.issuer)
        if claims.get(CLAIM + "message_type") != "LtiDeepLinkingResponse":
            raise Refused(HTTPStatus.BAD_REQUEST, "not an LtiDeepLinkingResponse")
        if claims.get(CLAIM + "deployment_id") != self.deployment_id:
            raise Refused(HTTPStatus.BAD_REQUEST, "unknown deployment_id")
        sent = [launch.get(DL_CLAIM + "deep_linking_settings") for launch in self.launches.values()]
        if claims.get(DL_CLAIM + "data") not in [settings["data"] for settings in sent if settings]:
            raise Refused(HTTPStatus.BAD_REQUEST, "data must echo the deep linking request's")
        items = claims.get(DL_CLAIM + "content_items")
        if not isinstance(items, list):
            raise Refused(HTTPStatus.BAD_REQUEST, "content_items is missing")
        with self._lock:
            self.deep_links.append(claims)
        # A link with a lineItem is a graded activity: the LMS makes its gradebook
        # column, as Canvas (an assignment) and Moodle (the activity's grade item) do.
        (context_id,) = {
            launch[CLAIM + "context"]["id"]
            for launch in self.launches.values()
            if (launch.get(DL_CLAIM + "deep_linking_settings") or {}).get("data")
            == claims.get(DL_CLAIM + "data")
        }
        for item in items:
            if isinstance(item.get("lineItem"), dict):
                self.add_lineitem(context_id, **item["lineItem"])
        titles = "".join(f"<li>{html.escape(item.get('title', ''))}</li>" for item in items)
        return 200, HTML, f"<title>Placed</title><h1>Placed in the course</h1><ul>{titles}</ul>"

    @staticmethod
    def _json(body: bytes) -> dict:
        try:
            value = json.loads(body or b"null")
        except ValueError as error:
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from error
        if not isinstance(value, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def _dispatch(self):
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.headers.get_content_type() == "application/x-www-form-urlencoded":
            params |= dict(parse_qsl(body.decode(), keep_blank_values=True))
        try:
            status, content_type, payload, *extra = self.server.platform.handle(
                self.command, parts.path, params, self.headers, body
            )
        except Refused as refused:
            status, content_type, payload, extra = refused.status, JSON, {"error": str(refused)}, []
        except Exception as error:  # A bug in the platform: say so rather than hang up.
            status, content_type, payload, extra = 500, JSON, {"error": repr(error)}, []
        if content_type == HTML:
            data = f"{PAGE_HEAD}{payload}</html>".encode()
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        for name, value in (headers | (extra[0] if extra else {})).items():
            if value:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        """Quiet: the tests assert on what the platform recorded, not on its log."""
