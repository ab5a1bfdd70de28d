from django import forms
from django.contrib import admin

from files.models import HomeMountsBound, HomeMove
from files.moves import home_move_refusal, home_move_start


class HomeMoveForm(forms.ModelForm):
    class Meta:
        model = HomeMove
        fields = ["user", "target", "homes_destination", "www_destination"]

    def clean(self):
        cleaned = super().clean()
        user, target = cleaned.get("user"), cleaned.get("target")
        if user is not None:
            refusal = home_move_refusal(user=user, target=target)
            if refusal:
                raise forms.ValidationError(refusal)
        return cleaned


@admin.register(HomeMove)
class HomeMoveAdmin(admin.ModelAdmin):
    """Staff move a user to another file server by adding a move; a worker carries it out.

    The user keeps working while it copies; their consoles restart during the final pass
    (seconds), and the Dashboard tells them so meanwhile.
    """

    form = HomeMoveForm
    list_display = ["user", "source", "target", "state", "passes", "downtime_seconds", "created_at"]
    list_filter = ["state", "target"]
    search_fields = ["user__username"]
    list_select_related = ["user", "source", "target"]
    raw_id_fields = ["user"]
    readonly_fields = ["source", "state", "passes", "downtime_seconds", "error", "finished_at"]

    def has_change_permission(self, request, obj=None):
        return False  # a move is started, then only watched

    def save_model(self, request, obj, form, change):
        move = home_move_start(
            user=obj.user,
            target=obj.target,
            homes_destination=obj.homes_destination,
            www_destination=obj.www_destination,
        )
        obj.pk = move.pk


@admin.register(HomeMountsBound)
class HomeMountsBoundAdmin(admin.ModelAdmin):
    """Which agent of each execution server last had every home bound (beat's check keeps it).

    Made by the check, never by hand; deleting a row makes the next check (within a minute)
    bind every home on that server again.
    """

    list_display = ["server", "boot_id", "agent_started", "bound_at"]
    search_fields = ["server__hostname"]
    list_select_related = ["server"]
    readonly_fields = ["server", "boot_id", "agent_started", "bound_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
