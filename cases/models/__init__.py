from cases.models.courses import (
    Assignment,
    Cohort,
    Course,
    ItemKind,
    LatePolicy,
    Membership,
    Module,
    ModuleItem,
)
from cases.models.users import LoginThrottle, User

__all__ = [
    "Assignment",
    "Cohort",
    "Course",
    "ItemKind",
    "LatePolicy",
    "LoginThrottle",
    "Membership",
    "Module",
    "ModuleItem",
    "User",
]
