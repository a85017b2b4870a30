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
from cases.models.readings import (
    CaseParagraph,
    CaseReading,
    CaseStudy,
    ReadingProgress,
    ReadingStatus,
    Region,
    reading_status,
)
from cases.models.users import LoginThrottle, User

__all__ = [
    "Assignment",
    "CaseParagraph",
    "CaseReading",
    "CaseStudy",
    "Cohort",
    "Course",
    "ItemKind",
    "LatePolicy",
    "LoginThrottle",
    "Membership",
    "Module",
    "ModuleItem",
    "ReadingProgress",
    "ReadingStatus",
    "Region",
    "User",
    "reading_status",
]
