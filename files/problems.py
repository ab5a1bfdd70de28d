"""The one exception the Files tab shows to users: a refusal with a sentence and a status."""


class FileProblem(Exception):
    """A file operation that could not be done, with a message fit to show the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BadName(FileProblem):
    """A file or folder name the user typed cannot be used; the message says why."""
