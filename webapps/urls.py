from django.urls import path

from webapps import views

app_name = "webapps"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/settings/<str:field>/", views.setting, name="setting"),
    path("<int:pk>/reload/", views.reload, name="reload"),
    path("<int:pk>/domain/check/", views.verify_domain, name="verify_domain"),
    path("<int:pk>/enabled/", views.enabled, name="enabled"),
    path("<int:pk>/https/", views.force_https, name="force_https"),
    path("<int:pk>/https/hsts/", views.hsts, name="hsts"),
    path("<int:pk>/https/certificate/", views.certificate_upload, name="certificate_upload"),
    path("<int:pk>/https/acme/", views.certificate_request, name="certificate_request"),
    path("<int:pk>/https/remove/", views.certificate_remove, name="certificate_remove"),
    path("<int:pk>/password/", views.password, name="password"),
    path("<int:pk>/static/", views.static_add, name="static_add"),
    path("<int:pk>/static/<int:mapping_pk>/delete/", views.static_delete, name="static_delete"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/logs/<str:kind>/", views.log, name="log"),
    path("<int:pk>/logs/<str:kind>/download/", views.log_download, name="log_download"),
]
