from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "schedules"
    verbose_name = "Tasks"

    def ready(self):
        from accounts.signals import limits_changed
        from schedules.process_labels import always_on_labels, task_labels
        from schedules.tasks import (
            always_on_follow_plan_enqueue,
            tasks_expiry_follow_plan_enqueue,
        )
        from servers import process_labels

        process_labels.register("task", task_labels)
        process_labels.register("always_on", always_on_labels)
        limits_changed.connect(always_on_follow_plan_enqueue, dispatch_uid="schedules.always_on")
        limits_changed.connect(tasks_expiry_follow_plan_enqueue, dispatch_uid="schedules.expiry")
