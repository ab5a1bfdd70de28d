from django.contrib import admin

from databases.models import Database, DatabaseAccount, DatabaseServer


@admin.register(DatabaseServer)
class DatabaseServerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "admin_user", "name_prefix", "is_active")
    list_filter = ("kind", "is_active")


@admin.register(DatabaseAccount)
class DatabaseAccountAdmin(admin.ModelAdmin):
    list_display = ("login", "server", "user", "state", "suspended_at")
    list_filter = ("state", "server")
    search_fields = ("login", "user__username")
    # The pending verifier is a password hash: never shown, never edited by hand.
    exclude = ("pending_verifier",)
    readonly_fields = ("user", "server", "login", "created_at")


@admin.register(Database)
class DatabaseAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "state", "created_at")
    list_filter = ("state",)
    search_fields = ("name",)
    readonly_fields = ("account", "name", "created_at")
