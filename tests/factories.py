from decimal import Decimal

import factory
from django.utils import timezone

from cases.models import (
    Assignment,
    CaseStudy,
    Choice,
    Cohort,
    Course,
    Decision,
    Discussion,
    ItemKind,
    Membership,
    Module,
    ModuleItem,
    Question,
    Quiz,
    QuizSlot,
    StanceCheck,
    User,
)
from cases.services.readings import case_create

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.edu")
    password = factory.django.Password(PASSWORD)


class CohortFactory(factory.django.DjangoModelFactory[Cohort]):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    cohort = factory.SubFactory(CohortFactory)
    user = factory.SubFactory(UserFactory)


class CourseFactory(factory.django.DjangoModelFactory[Course]):
    class Meta:
        model = Course
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"MGT {6000 + n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    description = "A course about *innovation*."

    @factory.post_generation
    def instructors(self, create, extracted, **kwargs):
        if create and extracted:
            self.instructors.add(*extracted)

    @factory.post_generation
    def teaching_assistants(self, create, extracted, **kwargs):
        if create and extracted:
            self.teaching_assistants.add(*extracted)

    @factory.post_generation
    def cohorts(self, create, extracted, **kwargs):
        if create and extracted:
            self.cohorts.add(*extracted)


class ModuleFactory(factory.django.DjangoModelFactory[Module]):
    class Meta:
        model = Module

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Module {n}")
    position = factory.Sequence(lambda n: n)


class ModuleItemFactory(factory.django.DjangoModelFactory[ModuleItem]):
    class Meta:
        model = ModuleItem

    module = factory.SubFactory(ModuleFactory)
    kind = ItemKind.CASE_READING
    title = factory.Sequence(lambda n: f"Item {n}")
    position = factory.Sequence(lambda n: n)


class AssignmentFactory(factory.django.DjangoModelFactory[Assignment]):
    class Meta:
        model = Assignment

    item = factory.SubFactory(ModuleItemFactory)
    cohort = factory.SubFactory(CohortFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=3))


def enrol(cohort: Cohort, count: int, prefix: str = "s") -> list[User]:
    """Bulk-create `count` students in `cohort`, fast enough for large classes."""
    users = User.objects.bulk_create(
        User(username=f"{prefix}{cohort.pk}-{n}", first_name="Stu", last_name=f"Dent {n}")
        for n in range(count)
    )
    Membership.objects.bulk_create(Membership(cohort=cohort, user=u) for u in users)
    return users


CASE_BODY = """Shanghai Bell makes telecom switches.

It has employed *many* researchers.

Its partners include a state firm."""


def make_case(**fields) -> CaseStudy:
    """A case saved through the service, so its paragraphs are numbered."""
    defaults = {
        "title": "Shanghai Bell",
        "slug": "shanghai-bell",
        "company": "Shanghai Bell",
        "region": "shanghai",
        "sector": "Telecom equipment",
        "summary": "A joint venture that learned to research.",
        "body": CASE_BODY,
        "key_facts": ["Over 1,600 researchers."],
        "discussion_questions": ["Is headcount in research R?"],
        "teaching_notes": "SECRET-TEACHING-NOTE: start with the board plan.",
        "spectrum_placement": 60,
        "spectrum_justification": "SECRET-PLACEMENT-REASON: a developer with a lab.",
        "source": "Breznitz and Murphree (2010).",
    }
    created_by = fields.pop("created_by", None)
    return case_create(case=CaseStudy(**(defaults | fields)), created_by=created_by)


def make_quiz(module, *, title="Reading check", **settings) -> Quiz:
    """A quiz item with one question of each auto-graded kind plus a short text, in
    `module`'s course bank. Returns the quiz; its questions are in quiz.slots."""
    course = module.course
    item = ModuleItem.objects.create(module=module, kind=ItemKind.QUIZ, title=title, position=50)
    quiz = Quiz.objects.create(item=item, **({"shuffle_choices": False} | settings))
    single = Question.objects.create(
        course=course, kind="single", title="Partner", text="Who was the partner?",
        feedback="KEY-FEEDBACK: Alcatel was the partner.",
    )  # fmt: skip
    Choice.objects.bulk_create(
        [
            Choice(question=single, text="Alcatel", fraction=1, feedback="KEY-RIGHT", position=0),
            Choice(question=single, text="Motorola", fraction=0, feedback="KEY-WRONG", position=1),
            Choice(question=single, text="IBM", fraction=0, position=2),
        ]
    )
    multiple = Question.objects.create(
        course=course, kind="multiple", title="Levers", text="Which levers did the center keep?"
    )
    Choice.objects.bulk_create(
        [
            Choice(question=multiple, text="Finance", fraction=Decimal("0.5"), position=0),
            Choice(question=multiple, text="Basic research", fraction=Decimal("0.5"), position=1),
            Choice(question=multiple, text="Export promotion", fraction=-1, position=2),
        ]
    )
    numeric = Question.objects.create(
        course=course, kind="numeric", title="Researchers", text="How many researchers?",
        numeric_answer=1600, numeric_tolerance=100,
    )  # fmt: skip
    true_false = Question.objects.create(
        course=course, kind="true_false", title="Owner", text="Alcatel owns it outright.",
        true_false_answer=False,
    )  # fmt: skip
    essay = Question.objects.create(
        course=course, kind="short_text", title="Argue", text="Is it an R firm?", points=2
    )
    for position, question in enumerate([single, multiple, numeric, true_false, essay], 1):
        QuizSlot.objects.create(quiz=quiz, question=question, position=position)
    return quiz


def make_discussion(module, case=None, *, title="R firm or D firm?", **settings):
    """A discussion item in `module` about `case`."""
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.DISCUSSION, title=title, position=70
    )
    return Discussion.objects.create(
        item=item, case=case, prompt="Argue from the case, citing paragraphs.", **settings
    )


def make_stance_check(
    module, statement="China should push its firms toward novel-product innovation."
):
    """A stance-check item in `module`, open for "before" answers."""
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.STANCE_CHECK, title=statement, position=80
    )
    return StanceCheck.objects.create(item=item, statement=statement)


def make_decision(module, question="Should Shanghai Bell's partners push it toward its own R&D?"):
    """A decision-point item in `module` with a prediction and a secret follow-up."""
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.DECISION, title=question, position=90
    )
    return Decision.objects.create(
        item=item,
        question=question,
        options=["Push for own R&D", "Stay a licensee"],
        prediction="Its research staff will pass 1,000 within five years.",
        follow_up="FOLLOW-UP-SECRET: the research staff grew past 1,600.",
    )


def make_spectrum(module, cases, cohorts=(), *, title="Place the companies", **assignment):
    """A spectrum exercise item in `module` over `cases`, given to `cohorts`."""
    from cases.services.thesis import spectrum_create

    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.SPECTRUM, title=title, position=70
    )
    exercise = spectrum_create(item=item, cases=list(cases))
    for cohort in cohorts:
        AssignmentFactory(item=item, cohort=cohort, **assignment)
    return exercise


def make_live(module, cohorts=(), *, title="Class 3: Shanghai Bell", start_by=None, **assignment):
    """A live-session item in `module` given to `cohorts`; with `start_by`, also a
    running session of it, started by that user. Returns the session, or the item."""
    from cases.models import LiveClass
    from cases.services.live import session_start

    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.LIVE_SESSION, title=title, position=60
    )
    LiveClass.objects.create(item=item)
    for cohort in cohorts:
        AssignmentFactory(item=item, cohort=cohort, **assignment)
    if start_by is None:
        return item
    return session_start(course=module.course, by=start_by, title=title, item=item)


def make_annotation_task(module, case, cohorts=(), *, title="Annotate the case", **settings):
    """An annotation assignment in `module` on `case`, given to `cohorts`."""
    from cases.models import AnnotationTask

    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.ANNOTATION, title=title, position=95
    )
    task = AnnotationTask.objects.create(item=item, case=case, **settings)
    for cohort in cohorts:
        AssignmentFactory(item=item, cohort=cohort)
    return task


def make_analysis(module, cohorts=(), *, case=None, title="Memo: the decision", **settings):
    """A written analysis in `module` (on `case`, if given), given to `cohorts`."""
    from cases.models import Analysis

    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.ANALYSIS, title=title, position=97
    )
    settings.setdefault("prompt", "Should the company build or buy? Cite the case.")
    analysis = Analysis.objects.create(item=item, case=case, **settings)
    for cohort in cohorts:
        AssignmentFactory(item=item, cohort=cohort)
    return analysis
