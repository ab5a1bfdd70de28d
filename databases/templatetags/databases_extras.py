from django import template

register = template.Library()


@register.filter
def size_of(section, database):
    """The database's size in bytes from its section (None: the server did not answer)."""
    return section.size_of(database)
