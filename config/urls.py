from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path

from accounts import views as accounts_views

# Staff log in through allauth like everyone else: their second factor and the login rate
# limits apply; Django's own admin form would skip both.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", accounts_views.favicon),
    # Before allauth's own, which it replaces (same name and pattern).
    re_path(
        r"^accounts/confirm-email/(?P<key>[-:\w]+)/$",
        accounts_views.confirm_email,
        name="account_confirm_email",
    ),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("servers/", include("servers.urls")),
    path("files/", include("files.urls")),
    path("consoles/", include("consoles.urls")),
    path("web/", include("webapps.urls")),
    path("tasks/", include("schedules.urls")),
    path("databases/", include("databases.urls")),
    path("billing/", include("billing.urls")),
    path("education/", include("education.urls")),
    path("ssh/", include("ssh.urls")),
    path("api/", include("api.urls")),
    path("forums/", include("forums.urls")),
]

# Pages with the site's layout and a way back (Django's own are bare, with no link anywhere).
handler404 = "accounts.views.page_not_found"
handler403 = "accounts.views.permission_denied"
