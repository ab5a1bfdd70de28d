from django.urls import path

from forums import views

app_name = "forums"
urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("c/<slug:slug>/new/", views.topic_new, name="topic_new"),
    path("t/<int:pk>/", views.topic, name="topic"),
    path("t/<int:pk>/reply/", views.reply, name="reply"),
    path("t/<int:pk>/subscribe/", views.subscribe, name="subscribe"),
    path("t/<int:pk>/moderate/", views.topic_moderate, name="topic_moderate"),
    path("p/<int:pk>/edit/", views.post_edit, name="post_edit"),
    path("p/<int:pk>/moderate/", views.post_moderate, name="post_moderate"),
    path("u/<str:username>/ban/", views.user_ban, name="user_ban"),
]
