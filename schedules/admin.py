from django.contrib import admin

from schedules.models import AlwaysOnTask, ScheduledTask, TaskRun


class TaskRunInline(admin.TabularInline):
    model = TaskRun
    extra = 0
    fields = ["scheduled_for", "trigger", "state", "started_at", "finished_at", "exit_status"]
    readonly_fields = fields
    ordering = ["-scheduled_for"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-scheduled_for")


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "owner",
        "description",
        "interval",
        "hour",
        "minute",
        "enabled",
        "next_run_at",
        "expires_at",
        "server",
    ]
    list_filter = ["interval", "enabled", "server"]
    search_fields = ["owner__username", "command", "description"]
    list_select_related = ["owner", "server"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at", "expiry_reminded_at"]
    inlines = [TaskRunInline]


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task",
        "scheduled_for",
        "trigger",
        "state",
        "started_at",
        "finished_at",
        "exit_status",
        "cpu_seconds",
    ]
    list_filter = ["state", "trigger"]
    search_fields = ["task__owner__username", "task__description", "agent_key"]
    list_select_related = ["task__owner"]
    raw_id_fields = ["task"]
    readonly_fields = ["agent_key"]


@admin.register(AlwaysOnTask)
class AlwaysOnTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "description", "enabled", "server", "created_at"]
    list_filter = ["enabled", "server"]
    search_fields = ["owner__username", "description", "command"]
    list_select_related = ["owner", "server"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
