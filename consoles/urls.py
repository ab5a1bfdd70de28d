from django.urls import path

from consoles import views

app_name = "consoles"
urlpatterns = [
    path("", views.index, name="index"),
]
