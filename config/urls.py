from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# Staff log in through allauth like everyone else: their second factor and the login rate
# limits apply; Django's own admin form would skip both.
admin.site.login = secure_admin_login(admin.site.login)

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
