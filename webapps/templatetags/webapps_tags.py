from django import template

from webapps.models import WebApp

register = template.Library()


@register.simple_tag
def webapp_for_wsgi_file(user, path: str) -> WebApp | None:
    """The user's web app whose WSGI file is path (/var/www/<domain>_wsgi.py), if any."""
    if not path.startswith("/var/www/") or not path.endswith("_wsgi.py"):
        return None
    slug = path[len("/var/www/") : -len("_wsgi.py")]
    return WebApp.objects.filter(user=user, domain=slug.replace("_", ".")).first()
