from django.urls import path

from webapps import views

app_name = "webapps"
urlpatterns = [
    path("", views.index, name="index"),
]
