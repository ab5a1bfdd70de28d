from django.apps import AppConfig


class ConsolesConfig(AppConfig):
    name = "consoles"
    verbose_name = "Consoles"

    def ready(self):
        from consoles.process_labels import console_labels
        from servers import process_labels

        process_labels.register("console", console_labels)
