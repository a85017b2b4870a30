"""Building a course: courses made and duplicated for a new term, modules and items
added, reordered and copied."""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cases.models import (
    Analysis,
    AnnotationTask,
    Assignment,
    CaseReading,
    CaseStudy,
    Choice,
    Course,
    Decision,
    Discussion,
    GradeCategory,
    ItemKind,
    LiveClass,
    Membership,
    Module,
    ModuleItem,
    Question,
    QuestionCategory,
    Quiz,
    Rubric,
    StanceCheck,
    User,
    content_model,
)
from cases.services.gradebook import DEFAULT_CATEGORIES
from cases.services.notifications import published_notify
from cases.services.schedule import given_assignments
from cases.services.thesis import spectrum_create
from cases.services.workspace.work import work_lowered, work_sync_cohorts


@transaction.atomic
def item_create(
    *,
    module: Module,
    kind: str,
    title: str,
    case: CaseStudy | None = None,
    cohorts=(),
    due_at=None,
    spectrum_cases=None,
    prompt: str = "",
    min_notes: int = 3,
    min_words: int = 15,
    annotate_first: bool = False,
) -> ModuleItem:
    """Add an item at the end of the module with its kind's content, filed in the grade
    category for its kind (when the course has it), and give it to the cohorts (with
    one due date) so their students see it; they are notified (or, for a cohort whose
    assignment opens later, when it opens). A discussion gets the prompt given: no
    stand-in text that could be published unchanged (its settings form requires one)."""
    last = module.items.aggregate(last=Max("position"))["last"] or 0
    item = ModuleItem.objects.create(
        module=module,
        kind=kind,
        title=title,
        position=last + 1,
        grade_category=default_category(module.course, kind),
    )
    if kind == ItemKind.CASE_READING:
        CaseReading.objects.create(item=item, case=case)
    elif kind == ItemKind.QUIZ:
        Quiz.objects.create(item=item)
    elif kind == ItemKind.STANCE_CHECK:
        StanceCheck.objects.create(item=item, statement=title)
    elif kind == ItemKind.DECISION:
        # No stand-in options, prediction or follow-up: students may commit once they
        # are written (`Decision.is_ready`).
        Decision.objects.create(item=item, question=title, options=[])
    elif kind == ItemKind.DISCUSSION:
        Discussion.objects.create(item=item, case=case, prompt=prompt)
    elif kind == ItemKind.SPECTRUM:
        spectrum_create(item=item, cases=spectrum_cases)
    elif kind == ItemKind.LIVE_SESSION:
        LiveClass.objects.create(item=item)
    elif kind == ItemKind.ANNOTATION:
        AnnotationTask.objects.create(
            item=item,
            case=case,
            min_notes=min_notes,
            min_words=min_words,
            annotate_first=annotate_first,
        )
    elif kind == ItemKind.ANALYSIS:
        Analysis.objects.create(item=item, case=case, prompt=prompt)
    Assignment.objects.bulk_create(
        Assignment(item=item, cohort=cohort, due_at=due_at) for cohort in cohorts
    )
    if cohorts:
        work_sync_cohorts(item, list(cohorts))
        published_notify(given_assignments(item, cohorts))
    return item


@dataclass(frozen=True)
class WorkChange:
    """What saving a kind's settings as edited would do to the work handed in on it
    (`annotation_task_change`): the settings page asks first when any is at stake."""

    undone: int  # Students who handed in and no longer would have.
    lowered: int  # Students whose score would fall (the undone among them).
    released: int  # Of those, students whose grade on it was released to them.

    @property
    def at_stake(self) -> bool:
        return bool(self.lowered)


def annotation_task_change(*, task: AnnotationTask) -> WorkChange:
    """What saving the annotation assignment's settings as edited (`task`, not saved:
    a new case, more notes or more words a note) would do to its students' work: a
    hand-in counted under the old settings may no longer be one, and its score may
    fall. Lowering what it asks takes nothing from anyone."""
    item = task.item
    item.annotation_task = task
    undone, lowered = work_lowered(item)
    released = (
        Membership.objects.filter(
            user__in=lowered,
            cohort__assignments__item=item,
            cohort__assignments__grades_released_at__isnull=False,
        )
        .values("user")
        .distinct()
        .count()
        if lowered
        else 0
    )
    return WorkChange(undone=len(undone), lowered=len(lowered), released=released)


@transaction.atomic
def annotation_task_update(*, task: AnnotationTask) -> None:
    """Save an annotation assignment's settings (its case, the notes and words it asks,
    annotate-first); its students' Work follows at once, since what counts changed."""
    task.save()
    item = ModuleItem.objects.with_content().get(pk=task.item_id)
    work_sync_cohorts(item, list(item.assignments.values_list("cohort", flat=True)))


@transaction.atomic
def analysis_update(*, analysis: Analysis) -> None:
    """Save a written analysis's settings. Memos already handed in keep their text and
    their links: a new case or word limit applies to what is handed in next."""
    analysis.save()


def default_category(course: Course, kind: str) -> GradeCategory | None:
    """The course's grade category of the default name for this kind of item (a live
    session goes to "Participation"), if the course has one by that name."""
    names = [name for name, (_w, _d, kinds) in DEFAULT_CATEGORIES.items() if kind in kinds]
    return GradeCategory.objects.filter(course=course, name__in=names).first()


# Courses and modules -------------------------------------------------------------------


@transaction.atomic
def course_create(*, code: str, title: str, description: str, time_zone: str, by: User) -> Course:
    """A new, empty course whose creator is its instructor."""
    course = Course.objects.create(
        code=code, title=title, description=description, time_zone=time_zone
    )
    course.instructors.add(by)
    return course


def module_create(*, course: Course, title: str, summary: str = "") -> Module:
    """A module at the end of the course."""
    last = course.modules.aggregate(last=Max("position"))["last"] or 0
    return Module.objects.create(course=course, title=title, summary=summary, position=last + 1)


UP, DOWN = "up", "down"


def _swap(rows: list, index: int, direction: str | None) -> list:
    """Move rows[index] one place up or down (a no-op at either end), then number them
    1..n; returns the rows whose position changed."""
    if direction in (UP, DOWN):
        target = index - 1 if direction == UP else index + 1
        if 0 <= target < len(rows):
            rows[index], rows[target] = rows[target], rows[index]
    changed = []
    for position, row in enumerate(rows, 1):
        if row.position != position:
            row.position = position
            changed.append(row)
    return changed


def _positions_save(model, rows: list) -> None:
    """Write the rows' new positions with the moment they changed, which `bulk_update`
    leaves alone (`auto_now` is set only by `save()`): the tracker's and gradebook's
    version reads it, and their columns follow the order."""
    now = timezone.now()
    for row in rows:
        row.updated_at = now
    model.objects.bulk_update(rows, ["position", "updated_at"])


def _lock_modules(course_id: int) -> list[Module]:
    """The course's modules in order, locked: every reorder in a course takes this lock
    first, so two concurrent clicks are applied one after the other."""
    return list(
        Module.objects.select_for_update()
        .filter(course_id=course_id)
        .order_by("position", "pk")
        .only("pk", "position", "course_id")
    )


@transaction.atomic
def module_move(*, module: Module, direction: str) -> None:
    """Move a module one place up or down in its course."""
    modules = _lock_modules(module.course_id)
    index = next(i for i, m in enumerate(modules) if m.pk == module.pk)
    _positions_save(Module, _swap(modules, index, direction))


@transaction.atomic
def item_move(*, item: ModuleItem, direction: str | None = None, to_module: Module | None = None):
    """Move an item one place up or down in its module, or to the end of another
    module of the same course."""
    _lock_modules(item.module.course_id)
    if to_module is not None and to_module.pk != item.module_id:
        if to_module.course_id != item.module.course_id:
            raise ValueError("An item moves only between modules of its own course.")
        last = to_module.items.aggregate(last=Max("position"))["last"] or 0
        old_module = item.module_id
        ModuleItem.objects.filter(pk=item.pk).update(
            module=to_module, position=last + 1, updated_at=timezone.now()
        )
        # Close the gap the item left behind.
        rest = list(ModuleItem.objects.filter(module_id=old_module).order_by("position", "pk"))
        _positions_save(ModuleItem, _swap(rest, 0, None))
        return
    items = list(
        ModuleItem.objects.filter(module_id=item.module_id)
        .order_by("position", "pk")
        .only("pk", "position", "module_id")
    )
    index = next(i for i, it in enumerate(items) if it.pk == item.pk)
    _positions_save(ModuleItem, _swap(items, index, direction))


# Copying content -------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCopy:
    """What a copy of one kind's content (its model: `content_model`) brings along.
    Every field of it is copied, so a field added later is too, except those in
    `fresh`."""

    # Fields a copy starts again, with these values: a term's dates, and what that
    # term's class made of the item (a thread locked, a prediction scored, placements
    # released), which would otherwise greet the next class.
    fresh: dict[str, object] = field(default_factory=dict)
    # Rows the content owns, copied with it: a quiz's slots, a spectrum's companies.
    parts: tuple[str, ...] = ()
    # What the term's students did with it: never copied, a new term starts empty.
    work: tuple[str, ...] = ()


# Every kind. tests/builder/test_duplicate.py fails for a kind missing here, and for a
# relation of a kind's content that is neither a part nor work, so none is left behind
# unnoticed.
KIND_COPIES = {
    ItemKind.CASE_READING: KindCopy(),
    ItemKind.QUIZ: KindCopy(parts=("slots",), work=("attempts",)),
    ItemKind.DISCUSSION: KindCopy(
        fresh={
            "locked": False,
            "version": 0,
            "closes_at": None,
            "first_post_due_at": None,
            "replies_due_at": None,
        },
        work=("posts", "follows", "participation_grades"),
    ),
    ItemKind.STANCE_CHECK: KindCopy(
        fresh=dict.fromkeys(("before_closes_at", "after_opens_at", "after_closes_at")),
        work=("answers", "pairs"),
    ),
    ItemKind.DECISION: KindCopy(fresh={"came_true": None, "scored_at": None}, work=("commits",)),
    ItemKind.SPECTRUM: KindCopy(
        fresh={"released_at": None}, parts=("cases",), work=("placements", "pairs")
    ),
    ItemKind.LIVE_SESSION: KindCopy(),
    ItemKind.ANNOTATION: KindCopy(),
    ItemKind.ANALYSIS: KindCopy(),
}


def _clone(rows: list, **changes) -> dict:
    """Copies of `rows` (all of one model), saved in one query: every field kept but
    the primary key and those `changes` names (attname → a value, or a function of the
    original row). Returns old id → copy."""
    if not rows:
        return {}
    model = type(rows[0])
    kept = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
    copies = [
        model(
            **{name: getattr(row, name) for name in kept if name not in changes},
            **{
                name: change(row) if callable(change) else change
                for name, change in changes.items()
            },
        )
        for row in rows
    ]
    model.objects.bulk_create(copies)
    return {old.pk: new for old, new in zip(rows, copies, strict=True)}


def _following(model, moved: dict) -> dict:
    """For `_clone`: each link of `model`'s rows to a row the copy moved (`moved`:
    model → old id → its copy) goes to that copy; links to anything else are kept."""

    def follow(link, to):
        return lambda row: to[old].pk if (old := getattr(row, link)) in to else old

    return {
        f.attname: follow(f.attname, moved[f.related_model])
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model in moved
    }


def _contents_copy(kind: str, items: dict[int, ModuleItem], moved: dict) -> None:
    """Give each copied item of `kind` (`items`: old item id → its copy) the original's
    content and its parts, as `KIND_COPIES` says; students' work stays behind. Links to
    rows the copy moved into its course (`moved`, e.g. the questions of the bank) follow
    them; links to case studies are kept, so the copy reads (and a decision point opens)
    the same cases. Two queries, and two a part, however many items."""
    if not items:
        return
    model, copying = content_model(kind), KIND_COPIES[kind]
    fresh = {model._meta.get_field(name).attname: value for name, value in copying.fresh.items()}
    rows = list(model.objects.filter(item__in=list(items)))
    copies = _clone(rows, item_id=lambda row: items[row.item_id].pk, **fresh)
    for name in copying.parts:
        relation = model._meta.get_field(name)
        if relation.many_to_many:  # A row of its table in between, e.g. a spectrum's case.
            part = relation.remote_field.through
            owner = part._meta.get_field(relation.m2m_field_name())
        else:  # Rows that point to it, e.g. a quiz's slots.
            part, owner = relation.related_model, relation.field
        _clone(
            list(part.objects.filter(**{f"{owner.name}__in": list(copies)})),
            **_following(part, moved),
            **{owner.attname: lambda row, link=owner.attname: copies[getattr(row, link)].pk},
        )


# What a question or choice says, besides where it is kept and when it was saved.
_QUESTION_SAYS = [
    f.attname
    for f in Question._meta.concrete_fields
    if f.name not in ("id", "course", "category", "created_at", "updated_at")
]
_CHOICE_SAYS = [f.attname for f in Choice._meta.concrete_fields if f.name not in ("id", "question")]


def _question_says(question: Question, choices) -> tuple:
    """Everything a bank question says, its category's name and its choices included:
    two questions that say the same are the same question to a student."""
    return (
        question.category.name if question.category_id else None,
        tuple(getattr(question, name) for name in _QUESTION_SAYS),
        tuple(sorted(tuple(getattr(c, name) for name in _CHOICE_SAYS) for c in choices)),
    )


def _copy_questions(questions: list[Question], course: Course) -> dict[int, Question]:
    """Copy bank questions (with their choices, and categories matched by name) into
    `course`'s bank; returns old question id → new question. A question the bank
    already holds, saying the same in the same category (a quiz copied from last term
    again, or into its duplicate), is used, not copied again: copied each time, the bank
    listed it over and over and a draw from its category could give a student the same
    question twice. A fixed number of queries however many questions."""
    if not questions:
        return {}
    choices_of: dict[int, list[Choice]] = {q.pk: [] for q in questions}
    for choice in Choice.objects.filter(question__in=choices_of.keys()):
        choices_of[choice.question_id].append(choice)
    here: dict[tuple, Question] = {}
    for question in (
        Question.objects.filter(course=course, title__in={q.title for q in questions})
        .select_related("category")
        .prefetch_related("choices")
        .order_by("pk")
    ):
        here.setdefault(_question_says(question, question.choices.all()), question)
    by_old: dict[int, Question] = {}
    missing: list[Question] = []
    for question in questions:
        says = _question_says(question, choices_of[question.pk])
        if says in here:
            by_old[question.pk] = here[says]
        else:
            here[says] = by_old[question.pk] = question
            missing.append(question)
    names = {q.category.name for q in missing if q.category_id}
    existing = {c.name: c for c in QuestionCategory.objects.filter(course=course, name__in=names)}
    absent = [QuestionCategory(course=course, name=n) for n in sorted(names - existing.keys())]
    for category in QuestionCategory.objects.bulk_create(absent):
        existing[category.name] = category
    copies = {
        question.pk: Question(
            **{name: getattr(question, name) for name in _QUESTION_SAYS},
            course=course,
            category=existing.get(question.category.name) if question.category_id else None,
        )
        for question in missing
    }
    Question.objects.bulk_create(copies.values())
    Choice.objects.bulk_create(
        Choice(**{name: getattr(c, name) for name in _CHOICE_SAYS}, question=copy)
        for old, copy in copies.items()
        for c in choices_of[old]
    )
    return {old: copies.get(new.pk, new) for old, new in by_old.items()}


def _foreign_bank_copy(quiz: Quiz, course: Course) -> dict:
    """What `quiz`'s slots use from another course's bank, copied into `course`'s: its
    questions, and each category it draws from (matched by name) with that category's
    questions. Returns them as `_contents_copy` follows them: model → old id → copy."""
    slots = list(quiz.slots.select_related("question__category", "category"))
    foreign = [s.question for s in slots if s.question_id and s.question.course_id != course.pk]
    drawn = [s.category for s in slots if s.category_id and s.category.course_id != course.pk]
    if drawn:
        foreign += list(Question.objects.filter(category__in=drawn).select_related("category"))
    questions = _copy_questions(list({q.pk: q for q in foreign}.values()), course)
    names = {c.name for c in drawn}
    categories = {c.name: c for c in QuestionCategory.objects.filter(course=course, name__in=names)}
    for name in sorted(names - categories.keys()):  # An empty category: nothing was copied.
        categories[name] = QuestionCategory.objects.create(course=course, name=name)
    return {Question: questions, QuestionCategory: {c.pk: categories[c.name] for c in drawn}}


def _category_here(source: ModuleItem, course: Course) -> GradeCategory | None:
    """The grade category in `course` for a copy of an item of another course: the one
    named as the item's was, else the default one for its kind (as a new item's,
    `default_category`); an item filed nowhere is never counted in the total."""
    if source.grade_category_id:
        named = GradeCategory.objects.filter(course=course, name=source.grade_category.name)
        if (category := named.first()) is not None:
            return category
    return default_category(course, source.kind)


def _rubric_here(rubric: Rubric | None, course: Course) -> Rubric | None:
    """The rubric in `course` for a copy of an item of another course graded by
    `rubric`: one of the course's with the same title and criteria, else a copy of it,
    so an edit to either course's rubric leaves the other's scores alone."""
    if rubric is None:
        return None
    for same in Rubric.objects.filter(course=course, title=rubric.title):
        if same.criteria == rubric.criteria:
            return same
    return Rubric.objects.create(course=course, title=rubric.title, criteria=rubric.criteria)


@transaction.atomic
def item_copy(*, source: ModuleItem, module: Module, title: str = "") -> ModuleItem:
    """Copy an item to the end of `module` with its kind's content, as a duplicated
    course does (`KIND_COPIES`). From another course, questions of its bank are copied
    into this course's bank, its rubric into this course's rubrics, and it is filed in
    this course's category of its category's name or its kind's (`_category_here`);
    attempts, posts and grades never are copied. The copy is a draft: given to no
    cohort."""
    course = module.course
    same_course = source.module.course_id == course.pk
    last = module.items.aggregate(last=Max("position"))["last"] or 0
    item = ModuleItem.objects.create(
        module=module,
        kind=source.kind,
        title=title or source.title,
        instructions=source.instructions,
        position=last + 1,
        grade_category=(source.grade_category if same_course else _category_here(source, course)),
        rubric=source.rubric if same_course else _rubric_here(source.rubric, course),
    )
    moved = _foreign_bank_copy(source.quiz, course) if source.kind == ItemKind.QUIZ else {}
    _contents_copy(source.kind, {source.pk: item}, moved)
    return item


@transaction.atomic
def course_duplicate(*, source: Course, code: str, title: str, by: User) -> Course:
    """A new course for a new term from `source`: its description and time zone, grade
    categories, rubrics, question bank, modules and items with each kind's content
    (`KIND_COPIES`: the same case studies, and a decision point opens the same part B).
    Its instructors are the source's plus `by`. No cohorts, assignments, dates or
    student work are copied. A fixed number of queries per model, whatever the course's
    size."""
    course = Course.objects.create(
        code=code, title=title, description=source.description, time_zone=source.time_zone
    )
    course.instructors.add(by, *source.instructors.all())
    grade_categories = _clone(list(source.grade_categories.all()), course_id=course.pk)
    rubrics = _clone(list(source.rubrics.all()), course_id=course.pk)
    categories = _clone(list(source.categories.all()), course_id=course.pk)
    questions = _clone(
        list(source.questions.all()),
        course_id=course.pk,
        **_following(Question, {QuestionCategory: categories}),
    )
    _clone(
        list(Choice.objects.filter(question__course=source)),
        **_following(Choice, {Question: questions}),
    )
    modules = _clone(list(source.modules.all()), course_id=course.pk)
    items = _clone(
        list(ModuleItem.objects.filter(module__course=source)),
        **_following(
            ModuleItem, {Module: modules, GradeCategory: grade_categories, Rubric: rubrics}
        ),
    )
    # A slot using a question of another course's bank keeps pointing there.
    moved = {Question: questions, QuestionCategory: categories}
    for kind in ItemKind:
        _contents_copy(kind, {old: new for old, new in items.items() if new.kind == kind}, moved)
    return course


# Scheduling --------------------------------------------------------------------------
