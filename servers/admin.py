from django.contrib import admin
from django.db import models
from django.db.models import Count

from servers.models import CpuAccount, CpuCounter, Server


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ["hostname", "kind", "is_active", "user_count", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["hostname", "execution_agent_socket", "fileserver_agent_url"]
    # Agents on a private network are often plain http; do not guess a scheme for staff.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(user_count=Count("users"))

    @admin.display(description="Users (file server)", ordering="user_count")
    def user_count(self, obj):
        return obj.user_count


@admin.register(CpuAccount)
class CpuAccountAdmin(admin.ModelAdmin):
    """Who is in the tarpit. To forgive a day, set used to 0 and untick tarpitted: the next
    minute's accounting run sends the normal weight."""

    list_display = ["user", "used_seconds", "tarpitted", "window_start", "reset_time"]
    list_filter = ["tarpitted"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["hourly_usec", "updated_at"]

    @admin.display(description="CPU-seconds used", ordering="used_usec")
    def used_seconds(self, obj):
        return round(obj.used_seconds, 1)


@admin.register(CpuCounter)
class CpuCounterAdmin(admin.ModelAdmin):
    list_display = ["user", "server", "last_usec", "read_at"]
    list_filter = ["server"]
    search_fields = ["user__username", "server__hostname"]
    list_select_related = ["user", "server"]
    raw_id_fields = ["user"]
