from django.apps import AppConfig


class WebappsConfig(AppConfig):
    name = "webapps"
    verbose_name = "Web apps"

    def ready(self):
        from webapps import checks  # noqa: F401 - registers the system checks
