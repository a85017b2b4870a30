"""The thesis exercises: students place the course's companies on the spectrum from
novel-product research (R, 0) to second-generation and process innovation (D, 100)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models.courses import ModuleItem
from cases.models.readings import CaseStudy

MAX_JUSTIFICATION_CHARS = 600


class SpectrumExercise(models.Model):
    """A spectrum exercise as a module item: the companies to place and, once the
    instructor releases it, the class's placements beside the authors'."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="spectrum")
    cases = models.ManyToManyField(CaseStudy, related_name="spectrum_exercises")
    prompt = models.TextField(blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Spectrum: {self.item}"

    @property
    def released(self) -> bool:
        return self.released_at is not None


class SpectrumPlacement(models.Model):
    """One student's placement of one company. `justification_html` caches the text
    rendered with its ¶ citations linked to the company's case."""

    exercise = models.ForeignKey(
        SpectrumExercise, on_delete=models.CASCADE, related_name="placements"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spectrum_placements"
    )
    case = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    justification = models.TextField(blank=True, max_length=MAX_JUSTIFICATION_CHARS)
    justification_html = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exercise", "user", "case__title"]
        constraints = [
            models.UniqueConstraint(
                fields=["exercise", "user", "case"], name="spectrum_placement_once"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=0) & Q(position__lte=100),
                name="spectrum_position_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} placed {self.case} at {self.position}"
