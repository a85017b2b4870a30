"""The gradebook's categories: weighted groups of a course's items."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from cases.models.courses import Course


class GradeCategory(models.Model):
    """A weighted group of items in a course's gradebook (readings, quizzes, ...)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="grade_categories")
    name = models.CharField(max_length=100)
    weight = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), help_text="Percent of the total."
    )
    drop_lowest = models.PositiveSmallIntegerField(
        default=0, help_text="Drop this many of each student's lowest scores."
    )
    position = models.PositiveIntegerField(default=0)
    # Any change to the row (`QuerySet.update()` must set it too): the gradebook's
    # version, as it shows the name, the weight, the drop-lowest and the order.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "position", "pk"]
        verbose_name_plural = "grade categories"
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="grade_category_name_once"),
            models.CheckConstraint(
                condition=Q(weight__gte=0) & Q(weight__lte=100), name="grade_category_weight"
            ),
        ]

    def __str__(self) -> str:
        return self.name
