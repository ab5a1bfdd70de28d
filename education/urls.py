from django.urls import path

from education import views

app_name = "education"
urlpatterns = [
    path("", views.index, name="index"),
    path("classroom/", views.classroom, name="classroom"),
    path("teacher/", views.teacher_nominate, name="teacher_nominate"),
    path("teacher/remove/", views.teacher_remove, name="teacher_remove"),
    path("consoles/<str:console_id>/share/", views.console_share, name="console_share"),
    path("consoles/<str:console_id>/unshare/", views.console_unshare, name="console_unshare"),
    path("students/<str:username>/", views.student, name="student"),
    path("students/<str:username>/remove/", views.student_remove, name="student_remove"),
]
