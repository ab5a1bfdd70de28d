"""Teachers and students: who teaches whom, who may be a teacher, and what teachers did.

A link is "current" until either side ends it (``ended_at`` set); ended links stay as the
history behind the audit trail. Access follows current links only, never their chains: a
teacher who is someone else's student gives that someone nothing of their own students.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class TeacherLink(models.Model):
    """``student`` named ``teacher`` as their teacher, from ``since`` until ``ended_at``."""

    class State(models.TextChoices):
        # Access at the web level starts at once (the seed: no staff step for a workshop);
        # the state says whether the home's permissions have caught up.
        GRANTING = "granting", "granting…"
        ACTIVE = "active", "active"
        ENDED = "ended", "ended"

    class EndedBy(models.TextChoices):
        STUDENT = "student", "the student"
        TEACHER = "teacher", "the teacher"
        STAFF = "staff", "staff"

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="teacher_links"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="student_links"
    )
    since = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)

    class Meta:
        ordering = ["-since"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(ended_at__isnull=True),
                name="education_one_current_teacher",
            ),
            models.CheckConstraint(
                condition=~Q(student=F("teacher")), name="education_not_own_teacher"
            ),
        ]
        indexes = [models.Index(fields=["teacher", "ended_at"], name="education_teacher_current")]

    def __str__(self):
        return f"{self.teacher} teaches {self.student}"

    @property
    def is_current(self) -> bool:
        return self.ended_at is None


class Teacher(models.Model):
    """Staff's approval of a user as a teacher, needed when WARREN_EDUCATION_TEACHERS_APPROVED."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="teacher_approval"
    )
    approved_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"Teacher {self.user}"


class TeacherAction(models.Model):
    """One thing a teacher did to a student's things, shown on the student's Account tab."""

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="teacher_actions"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="actions_as_teacher"
    )
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["student", "-at"], name="education_action_student")]

    def __str__(self):
        return f"{self.teacher} {self.action} {self.target} ({self.student})"


class ClassShare(models.Model):
    """A console its owner shared, read-only, with all their current students (the seed's
    "Sharing is Caring": one click, and students who join later see it too)."""

    console = models.OneToOneField(
        "consoles.Console", on_delete=models.CASCADE, related_name="class_share"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.console} shared with the class"
