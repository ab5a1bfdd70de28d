from django import template

from billing.pricing import format_money

register = template.Library()


@register.filter
def money(minor: int, currency: str) -> str:
    """123456|money:"EUR" -> EUR 1,234.56"""
    return format_money(minor, currency)


@register.simple_tag
def geoip_database():
    """The configured GeoIP database path, or "" (the embedded default ships none)."""
    from django.conf import settings

    return str(settings.WARREN_GEOIP_DATABASE or "")
