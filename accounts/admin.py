from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import CustomLimits, Plan, User


class CustomLimitsInline(admin.StackedInline):
    model = CustomLimits
    extra = 0
    max_num = 1


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "email",
        "uid",
        "plan",
        "file_server",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    ]
    list_filter = ["plan", "file_server", "is_active", "is_staff", "date_joined"]
    search_fields = ["username", "email", "first_name", "last_name"]
    list_select_related = ["plan", "file_server"]
    readonly_fields = ["uid", "date_joined", "last_login"]
    inlines = [CustomLimitsInline]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Warren", {"fields": ("uid", "plan", "file_server")}),
    )

    @admin.display(description="uid")
    def uid(self, obj):
        return obj.uid if obj.pk else "-"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "monthly_price_display",
        "cpu_seconds_per_day",
        "max_consoles",
        "max_web_apps",
        "max_web_workers_per_app",
        "disk_bytes",
        "max_scheduled_tasks",
        "postgres_allowed",
        "custom_domains_allowed",
        "is_public",
    ]
    list_filter = ["is_public", "postgres_allowed", "custom_domains_allowed"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(CustomLimits)
class CustomLimitsAdmin(admin.ModelAdmin):
    list_display = ["user", "cpu_seconds_per_day", "max_web_apps", "disk_bytes", "updated_at"]
    search_fields = ["user__username", "user__email", "note"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
