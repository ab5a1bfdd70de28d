from django.contrib import admin

from education.models import ClassShare, Teacher, TeacherAction, TeacherLink


@admin.register(TeacherLink)
class TeacherLinkAdmin(admin.ModelAdmin):
    list_display = ["student", "teacher", "since", "state", "ended_at", "ended_by"]
    list_filter = ["state", "ended_by", "since"]
    search_fields = ["student__username", "teacher__username"]
    list_select_related = ["student", "teacher"]
    raw_id_fields = ["student", "teacher"]


@admin.register(Teacher)
class TeacherAdmin(admin.ModelAdmin):
    """The staff-set flag WARREN_EDUCATION_TEACHERS_APPROVED asks for."""

    list_display = ["user", "approved_at", "note"]
    search_fields = ["user__username", "note"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(TeacherAction)
class TeacherActionAdmin(admin.ModelAdmin):
    list_display = ["at", "teacher", "student", "action", "target"]
    list_filter = ["action", "at"]
    search_fields = ["teacher__username", "student__username", "target"]
    list_select_related = ["teacher", "student"]
    raw_id_fields = ["teacher", "student"]

    def has_change_permission(self, request, obj=None):
        # The audit trail is a record: staff may read and delete, never rewrite it.
        return False


@admin.register(ClassShare)
class ClassShareAdmin(admin.ModelAdmin):
    list_display = ["console", "created_at"]
    search_fields = ["console__id", "console__owner__username"]
    list_select_related = ["console", "console__owner"]
    raw_id_fields = ["console"]
