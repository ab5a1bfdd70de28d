from django.contrib import admin

from consoles.models import Console, Launcher, Preferences, Share


class ShareInline(admin.TabularInline):
    model = Share
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Console)
class ConsoleAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "kind", "title", "state", "server", "created_at"]
    list_filter = ["kind", "state", "server", "created_at"]
    search_fields = ["id", "owner__username", "title", "script_path"]
    list_select_related = ["owner", "server"]
    raw_id_fields = ["owner", "launcher"]
    readonly_fields = ["id", "created_at"]
    inlines = [ShareInline]


@admin.register(Launcher)
class LauncherAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "working_directory", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "command", "owner__username"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ["console", "user", "read_only", "created_at"]
    list_filter = ["read_only", "created_at"]
    search_fields = ["console__id", "user__username", "console__owner__username"]
    list_select_related = ["console", "user"]
    raw_id_fields = ["console", "user"]


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ["user", "default_python"]
    list_filter = ["default_python"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
