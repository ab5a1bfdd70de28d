import math

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def time_until_short(moment) -> str:
    """'5 h 12 min' until ``moment`` (minutes rounded up, so it never says 0 early)."""
    minutes = max(0, math.ceil((moment - timezone.now()).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
