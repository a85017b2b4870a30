from cases.permissions import is_admin, is_teaching_staff


def navigation(request) -> dict:
    """Booleans for the role-aware navigation. `nav_teaches` is a callable so the query
    runs only on pages that render the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_is_admin": is_admin(user),
        "nav_teaches": lambda: is_teaching_staff(user),
    }
