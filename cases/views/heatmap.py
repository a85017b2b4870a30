"""The heat map of a class's notes on a case, for the course staff."""

import csv

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.http import CsvEcho, HtmxHttpRequest, csv_cell, parse_int
from cases.permissions import course_to_grade, graded_cohorts
from cases.services.heatmap import course_case, heatmap_build

CSV_HEADER = ["Paragraph", "Sentence", "Text", "Highlights", "Students", "Questions", "Replies"]


@require_GET
def annotation_heatmap(request: HtmxHttpRequest, pk: int, slug: str):
    """Instructors, TAs (the cohorts they look after) and admins of the course: where
    its students' notes on one of its cases gather, sentence by sentence, filtered by
    cohort; `?format=csv` downloads the same counts. Its students get 403; a case the
    course does not use is 404. Private notes are never counted."""
    course, access = course_to_grade(request.user, pk)
    cohorts = list(graded_cohorts(request.user, course, access).order_by("name", "pk"))
    chosen = parse_int(request.GET.get("cohort"), low=1)
    if chosen not in {cohort.pk for cohort in cohorts}:
        chosen = None
    cohort_ids = [chosen] if chosen else [cohort.pk for cohort in cohorts]
    case = course_case(course, slug, cohort_ids)
    if case is None:
        raise Http404
    heat = heatmap_build(case, cohort_ids)
    if request.GET.get("format") == "csv":
        return _csv(case, heat)
    return render(
        request,
        "cases/annotations/heatmap.html",
        {
            "course": course,
            "case": case,
            "cohorts": cohorts,
            "chosen": chosen,
            "heat": heat,
            "paragraphs": heat.paragraphs,
            "most_highlighted": heat.most_highlighted,
            "question_clusters": heat.question_clusters,
            "untouched": heat.untouched,
            "legend": heat.legend(),
        },
    )


def _csv(case, heat) -> HttpResponse:
    """One row per sentence; UTF-8 with a byte-order mark, no cell a formula."""
    writer = csv.writer(CsvEcho())
    lines = ["\ufeff", writer.writerow(CSV_HEADER)]
    for s in heat.sentences:
        values = [s.paragraph, s.number, s.text, s.highlights, s.students, s.questions, s.replies]
        lines.append(writer.writerow([csv_cell(v) for v in values]))
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{case.slug}-heat-map.csv"'
    return response
