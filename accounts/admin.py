from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.limits import effective_limits
from accounts.models import CustomLimits, Plan, User
from files.selectors import storage_usage
from files.units import format_bytes

# The stock "Django administration" told an operator nothing about where they were.
admin.site.site_header = f"{settings.WARREN_SITE_NAME} administration"
admin.site.site_title = f"{settings.WARREN_SITE_NAME} administration"
admin.site.index_title = f"{settings.WARREN_SITE_NAME} administration"

# For support: what a user has, each leading to the admin's own list of it, filtered to them
# (read-only links; nothing here signs in as the user or changes their things).
SUPPORT_LISTS = (
    ("Consoles", "admin:consoles_console_changelist", "owner__id__exact"),
    ("Consoles shared with them", "admin:consoles_share_changelist", "user__id__exact"),
    ("Console launchers", "admin:consoles_launcher_changelist", "owner__id__exact"),
    ("Web apps", "admin:webapps_webapp_changelist", "user__id__exact"),
    ("CPU-seconds day", "admin:servers_cpuaccount_changelist", "user__id__exact"),
)


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
    readonly_fields = [
        "uid",
        "date_joined",
        "last_login",
        "support_things",
        "support_limits",
        "support_disk_usage",
    ]
    inlines = [CustomLimitsInline]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Warren", {"fields": ("uid", "plan", "file_server")}),
        (
            "Support",
            {
                "fields": ("support_things", "support_limits", "support_disk_usage"),
                "description": "What this user has, for answering their questions.",
            },
        ),
    )

    @admin.display(description="uid")
    def uid(self, obj):
        return obj.uid if obj.pk else "-"

    @admin.display(description="Their things")
    def support_things(self, obj):
        if not obj.pk:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}?{}={}">{}</a></li>',
                ((reverse(url), lookup, obj.pk, label) for label, url, lookup in SUPPORT_LISTS),
            ),
        )

    @admin.display(description="Limits in force")
    def support_limits(self, obj):
        if not obj.pk:
            return "-"
        limits = effective_limits(obj)
        source = "custom limits" if limits.is_custom else f"the {limits.plan_name} plan"
        return format_html(
            "From {}: {} CPU-seconds a day, {} web apps, {} of disk, {} consoles.",
            source,
            limits.cpu_seconds_per_day,
            limits.max_web_apps,
            format_bytes(limits.disk_bytes),
            "unlimited" if limits.max_consoles is None else limits.max_consoles,
        )

    # Asked of the user's file server live (with the page timeout the Files tab uses).
    @admin.display(description="Disk usage")
    def support_disk_usage(self, obj):
        if not obj.pk or obj.file_server_id is None:
            return "-"
        usage = storage_usage(user=obj)
        return usage.text if usage else "Unavailable: the file server is not answering."


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
        "max_always_on_tasks",
        "postgres_allowed",
        "custom_domains_allowed",
        "ssh_allowed",
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
