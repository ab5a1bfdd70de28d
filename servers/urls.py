from django.urls import path

from servers import views

app_name = "servers"
urlpatterns = [
    path("processes/", views.processes, name="processes"),
    path("processes/<int:server_id>/<int:pid>/kill/", views.process_kill, name="process_kill"),
]
