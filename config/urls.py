from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("servers/", include("servers.urls")),
    path("files/", include("files.urls")),
    path("consoles/", include("consoles.urls")),
    path("web/", include("webapps.urls")),
    path("tasks/", include("schedules.urls")),
    path("databases/", include("databases.urls")),
]
