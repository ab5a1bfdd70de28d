"""The Tasks tab's one form: a command, daily HH:MM or hourly :MM (UTC), a description.

Field types and ranges are checked here; the rules about the user (their home, their plan's
limit, hourly on paid plans only) are the services', raised as AppError on a field.
"""

from django import forms

from schedules.models import AlwaysOnTask, ScheduledTask
from schedules.services import MAX_COMMAND_CHARS, Schedule


class TaskForm(forms.Form):
    command = forms.CharField(
        max_length=MAX_COMMAND_CHARS,
        strip=False,  # the service strips, after it has looked for line breaks
        help_text="A script in your home (/home/you/backup.sh) or any Bash command line.",
    )
    interval = forms.ChoiceField(
        choices=ScheduledTask.Interval.choices, initial=ScheduledTask.Interval.DAILY
    )
    hour = forms.IntegerField(required=False, min_value=0, max_value=23, label="Hour (UTC)")
    minute = forms.IntegerField(min_value=0, max_value=59)
    description = forms.CharField(max_length=200, required=False)

    def clean(self):
        data = super().clean()
        daily = data.get("interval") == ScheduledTask.Interval.DAILY
        if daily and data.get("hour") is None and "hour" not in self.errors:
            self.add_error("hour", "A daily task needs an hour (0-23, UTC).")
        return data

    @property
    def schedule(self) -> Schedule:
        data = self.cleaned_data
        return Schedule(data["interval"], data.get("hour"), data["minute"])

    @classmethod
    def for_task(cls, task: ScheduledTask, data=None) -> "TaskForm":
        initial = {
            "command": task.command,
            "interval": task.interval,
            "hour": task.hour,
            "minute": task.minute,
            "description": task.description,
        }
        return cls(data, initial=initial)


class AlwaysOnForm(forms.Form):
    command = forms.CharField(
        max_length=MAX_COMMAND_CHARS,
        strip=False,
        help_text="Kept running: started again if it exits (a script in your home, or any "
        "Bash command line).",
    )
    description = forms.CharField(max_length=200, required=False)

    @classmethod
    def for_task(cls, task: AlwaysOnTask, data=None) -> "AlwaysOnForm":
        return cls(data, initial={"command": task.command, "description": task.description})
