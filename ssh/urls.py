from django.urls import path

from ssh import views

app_name = "ssh"
urlpatterns = [
    path("keys/", views.keys_add, name="keys_add"),
    path("keys/<int:pk>/delete/", views.key_delete, name="key_delete"),
    path("lookup/", views.lookup, name="lookup"),
]
