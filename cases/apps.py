from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Red Queen"

    def ready(self):
        # The LTI link listens for changed grades (it sends them to an LMS gradebook).
        # A memo's file leaves storage with its version.
        from cases.services import (
            lti,  # noqa: F401
            memo_files,  # noqa: F401
        )
