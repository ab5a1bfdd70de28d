"""The Files tab's URLs. ``path`` is an absolute in-sandbox path without its leading slash:
``home/<username>/...`` or ``var/www/...`` (other apps link here; keep these names and shapes).
"""

from django.urls import path

from files import views

app_name = "files"
urlpatterns = [
    path("", views.index, name="index"),
    path("browse/", views.index),
    path("browse/<path:path>", views.browse, name="browse"),
    path("edit/<path:path>", views.edit, name="edit"),
    path("download/<path:path>", views.download, name="download"),
    path("upload/<path:path>", views.upload, name="upload"),
    path("new/<path:path>", views.create, name="create"),
    path("rename/<path:path>", views.rename, name="rename"),
    path("delete/<path:path>", views.delete, name="delete"),
]
