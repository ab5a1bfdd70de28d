from django.urls import path

from servers import views

app_name = "servers"
urlpatterns = [
    path("processes/", views.processes, name="processes"),
    path("processes/<int:server_id>/<int:pid>/kill/", views.process_kill, name="process_kill"),
    # A student's, for their teacher (accounts.access); anyone else gets a 404.
    path("processes/of/<str:username>/", views.processes, name="processes_of"),
    path(
        "processes/of/<str:username>/<int:server_id>/<int:pid>/kill/",
        views.process_kill,
        name="process_kill_of",
    ),
]
