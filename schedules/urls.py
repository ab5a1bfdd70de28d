from django.urls import path

from schedules import views

app_name = "schedules"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.edit, name="edit"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/enable/", views.enable, name="enable"),
    path("<int:pk>/run/", views.run_now, name="run"),
    path("<int:pk>/extend/", views.extend, name="extend"),
    path("always-on/new/", views.always_on_create, name="always_on_create"),
    path("always-on/<int:pk>/", views.always_on_edit, name="always_on_edit"),
    path("always-on/<int:pk>/delete/", views.always_on_delete, name="always_on_delete"),
    path("always-on/<int:pk>/enable/", views.always_on_enable, name="always_on_enable"),
    path("always-on/<int:pk>/restart/", views.always_on_restart, name="always_on_restart"),
]
