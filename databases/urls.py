from django.urls import path

from databases import views

app_name = "databases"
urlpatterns = [
    path("", views.index, name="index"),
    path("password/", views.password, name="password"),
    path("new/", views.create, name="create"),
    path("console/", views.console, name="console"),
    path("<int:database_id>/delete/", views.delete, name="delete"),
]
