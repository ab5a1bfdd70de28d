from django.contrib import admin
from django.db import models
from django.db.models import Count

from servers.models import Server


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
