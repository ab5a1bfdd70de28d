import contextlib

from django.apps import AppConfig


class ConsolesConfig(AppConfig):
    name = "consoles"
    verbose_name = "Consoles"

    def ready(self):
        # The Processes page names console processes through servers.process_labels where
        # that registry exists; without it, consoles.process_labels is there to be called.
        with contextlib.suppress(ImportError):
            from consoles.process_labels import console_labels
            from servers import process_labels

            process_labels.register("console", console_labels)
