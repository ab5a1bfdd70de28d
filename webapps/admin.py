from django.contrib import admin

from webapps.models import Certificate, StaticMapping, WebApp


class StaticMappingInline(admin.TabularInline):
    model = StaticMapping
    extra = 0


@admin.register(WebApp)
class WebAppAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "user",
        "framework",
        "python_version",
        "workers",
        "enabled",
        "server",
        "last_reload_ok",
        "last_reload_at",
    ]
    list_filter = ["enabled", "framework", "python_version", "force_https", "server"]
    search_fields = ["domain", "user__username", "user__email"]
    list_select_related = ["user", "server"]
    readonly_fields = ["created_at", "updated_at", "last_reload_at", "last_reload_ok"]
    raw_id_fields = ["user"]
    inlines = [StaticMappingInline]


@admin.register(StaticMapping)
class StaticMappingAdmin(admin.ModelAdmin):
    list_display = ["url", "directory", "dotfiles", "webapp"]
    search_fields = ["url", "directory", "webapp__domain", "webapp__user__username"]
    list_select_related = ["webapp"]
    list_filter = ["webapp__enabled", "dotfiles"]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["domain", "webapp", "source", "state", "issuer", "not_after", "renew_after"]
    list_filter = ["source", "state"]
    search_fields = ["domain", "webapp__domain", "webapp__user__username"]
    list_select_related = ["webapp", "webapp__user"]
    raw_id_fields = ["webapp"]
    # The site's private key never reaches a page, staff's included.
    exclude = ["key_pem"]
    readonly_fields = ["created_at", "updated_at", "failure_notified_at"]
