from django.contrib import admin

from ssh.models import SSHKey


@admin.register(SSHKey)
class SSHKeyAdmin(admin.ModelAdmin):
    list_display = ["user", "key_type", "fingerprint", "comment", "created_at"]
    search_fields = ["user__username", "fingerprint", "comment"]
    list_select_related = ["user"]
    readonly_fields = ["key_type", "key_data", "fingerprint", "bits", "created_at"]
