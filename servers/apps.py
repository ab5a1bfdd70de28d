from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"
    verbose_name = "Servers"

    def ready(self):
        from servers import checks  # noqa: F401 - registers the system checks
