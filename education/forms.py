from django import forms

from config.errors import AppError
from education.services import teacher_for_nomination, teacher_nominate


class SignupTeacherForm(forms.Form):
    """allauth's ACCOUNT_SIGNUP_FORM_CLASS: the optional teacher field at sign-up.

    The seed's workshop: attendees sign up, fill in the teacher field, and are linked at once.
    """

    teacher = forms.CharField(
        max_length=30,
        required=False,
        label="Teacher (optional)",
        help_text="Your teacher's username, if you are joining a class or workshop.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("teacher"):
            try:
                teacher_for_nomination(
                    username=cleaned["teacher"], student_username=self.data.get("username", "")
                )
            except AppError as problem:
                self.add_error("teacher", problem.message)
        return cleaned

    def signup(self, request, user):
        if self.cleaned_data.get("teacher"):
            teacher_nominate(student=user, username=self.cleaned_data["teacher"])


class TeacherForm(forms.Form):
    teacher = forms.CharField(max_length=30, required=False)
