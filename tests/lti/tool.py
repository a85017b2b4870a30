"""The tool's side of installing the test platform, as an admin does it: Red Queen's key,
the platform's registration and its deployment; and the platform told the tool's URLs."""

from lti_tool.models import Key, LtiDeployment, LtiRegistration


def register(
    platform, launch_url: str, jwks_url: str | None = None, *, name: str = "Test LMS"
) -> LtiRegistration:
    if not Key.objects.active().exists():
        Key.objects.generate()
    registration = LtiRegistration.objects.create(
        name=name,
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_url=platform.auth_url,
        token_url=platform.token_url,
        keyset_url=platform.jwks_url,
    )
    LtiDeployment.objects.create(
        registration=registration, deployment_id=platform.deployment_id, is_active=True
    )
    platform.redirect_uris = [launch_url]
    if jwks_url:
        platform.tool_jwks_url = jwks_url
    else:
        platform.tool_jwks = Key.objects.as_jwks()
    platform.registration = registration
    return registration
