"""The one answer to "may this user act on that user's things?" (files, consoles, web apps,
tasks, processes, logs).

Owner, or the owner's current teacher (education). Every view that used to allow only the
owner asks here instead of growing its own teacher check, and turns "no" into a 404 so that
outsiders learn nothing. Chains give nothing: a teacher's teacher is not a teacher of the
teacher's students. Staff impersonation, when it comes, is one more clause here.

What a teacher does is recorded (``access_record``) and listed on the student's Account tab.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User


def may_act_on(actor, owner) -> bool:
    """Whether ``actor`` may act on ``owner``'s things: the owner or their current teacher."""
    if actor is None or not actor.is_authenticated or owner is None:
        return False
    if actor.pk == owner.pk:
        return True
    from education.selectors import is_current_teacher_of

    return is_current_teacher_of(teacher=actor, student=owner)


def owner_or_404(actor, username: str) -> User:
    """The user called ``username`` if ``actor`` may act on their things; else Http404."""
    if actor.is_authenticated and username == actor.username:
        return actor
    owner = User.objects.filter(username=username, is_active=True).first()
    if owner is None or not may_act_on(actor, owner):
        raise Http404("No such user")
    return owner


def object_or_404(queryset, *, actor, owner: str, **lookup):
    """The object ``lookup`` finds if ``actor`` may act on the user in its ``owner`` field;
    otherwise (none, or someone else's) Http404, the same answer either way."""
    found = get_object_or_404(queryset.select_related(owner), **lookup)
    if not may_act_on(actor, getattr(found, owner)):
        raise Http404("No such object")
    return found


def access_record(*, actor, owner, action: str, target: str = "") -> None:
    """Record what ``actor`` did to ``owner``'s things, when it was not their own."""
    if actor.pk == owner.pk:
        return
    from education.services import teacher_action_record

    teacher_action_record(teacher=actor, student=owner, action=action, target=target)
