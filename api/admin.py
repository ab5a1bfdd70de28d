from django.contrib import admin

from api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see tokens by prefix and revoke them (delete); the digest is never shown."""

    list_display = ("prefix", "name", "user", "in_sandboxes", "created_at", "last_used_at")
    list_filter = ("in_sandboxes",)
    search_fields = ("user__username", "prefix", "name")
    fields = ("user", "name", "prefix", "in_sandboxes", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False  # a token is made by its user, who alone sees it once
