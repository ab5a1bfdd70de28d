from django.urls import path

from consoles import views

app_name = "consoles"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.start, name="start"),
    path("run/", views.run_file, name="run_file"),
    path("preferences/", views.preferences, name="preferences"),
    path("launchers/", views.launcher_create, name="launcher_create"),
    path("launchers/<int:launcher_id>/", views.launcher_edit, name="launcher_edit"),
    path("launchers/<int:launcher_id>/delete/", views.launcher_delete, name="launcher_delete"),
    path("<str:console_id>/", views.console, name="console"),
    path("<str:console_id>/frame/", views.frame, name="frame"),
    path("<str:console_id>/kill/", views.kill, name="kill"),
    path("<str:console_id>/restart/", views.restart, name="restart"),
    path("<str:console_id>/shares/", views.share, name="share"),
    path("<str:console_id>/shares/<int:share_id>/revoke/", views.unshare, name="unshare"),
]
