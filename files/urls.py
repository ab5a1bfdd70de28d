"""The Files tab's URLs. ``path`` is an absolute in-sandbox path without its leading slash:
``home/<username>/...`` or ``var/www/...`` (other apps link here; keep these names and shapes).
"""

from django.urls import path, register_converter

from files import views


class AnyPathConverter:
    """Django's ``path`` converter, but a name may hold a line break: ``.`` in the stock
    pattern stops at one, so such a file was listed yet could not be opened or deleted."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyPathConverter, "anypath")

app_name = "files"
urlpatterns = [
    path("", views.index, name="index"),
    path("browse/", views.index),
    path("browse/<anypath:path>", views.browse, name="browse"),
    path("edit/<anypath:path>", views.edit, name="edit"),
    path("download/<anypath:path>", views.download, name="download"),
    path("upload/<anypath:path>", views.upload, name="upload"),
    path("new/<anypath:path>", views.create, name="create"),
    path("rename/<anypath:path>", views.rename, name="rename"),
    path("delete/<anypath:path>", views.delete, name="delete"),
    path("last-night/<anypath:path>", views.snapshot, name="snapshot"),
    path("last-night-restore/<anypath:path>", views.snapshot_restore, name="snapshot_restore"),
]
