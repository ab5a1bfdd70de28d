"""The forums' forms: field shapes only; what is allowed (lengths, emptiness, floods, locks)
is the services' to say, as AppError on a field."""

from django import forms

from forums.models import Category


class TopicForm(forms.Form):
    title = forms.CharField(required=False, strip=False)
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Markdown: **bold**, `code`, ```fenced blocks```, [links](https://…).",
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        required=False,
        strip=False,
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown.",
    )


class EditForm(TopicForm):
    pass


class MoveForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.all(), empty_label=None)


class BanForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300)
