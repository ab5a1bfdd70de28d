from django import template

from files.units import format_bytes

register = template.Library()


@register.filter
def binary_size(count: int) -> str:
    """A byte count in binary units: '312 MiB'."""
    return format_bytes(int(count))
