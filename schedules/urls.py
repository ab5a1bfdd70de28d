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
]
