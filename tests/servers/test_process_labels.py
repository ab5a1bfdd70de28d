"""Naming processes by their tags: one lookup per kind, and only among the user's own things."""

import pytest

from consoles.models import Console
from servers import process_labels
from servers.process_labels import Label

pytestmark = pytest.mark.django_db


def console_of(user, title="Bash") -> Console:
    return Console.objects.create(
        owner=user, kind="bash", title=title, argv=["bash"], cwd=f"/home/{user.username}"
    )


def test_each_labeler_is_asked_once_with_every_id_of_its_kind(user, monkeypatch):
    calls = []

    def task_labels(owner, ids):
        calls.append((owner, ids))
        return {tag_id: (f"Task {tag_id}", f"/tasks/{tag_id}/") for tag_id in ids if tag_id != "9"}

    monkeypatch.setitem(process_labels.registry, "task", task_labels)
    tags = [("task", "1"), ("task", "2"), ("task", "1"), ("task", "9")]
    labels = process_labels.labels_for(user, tags)
    assert calls == [(user, ["1", "2", "9"])]
    assert labels[("task", "1")] == Label("Task 1", "/tasks/1/")
    assert labels[("task", "2")] == Label("Task 2", "/tasks/2/")
    # An id the labeler does not know gets the kind's plain name, without a link.
    assert labels[("task", "9")] == Label("Scheduled task")


def test_untagged_and_unknown_kinds_get_no_label(user):
    labels = process_labels.labels_for(user, [(None, None), ("other", "none"), ("gizmo", "7")])
    assert labels == {}


def test_the_consoles_tmux_server_is_named(user):
    labels = process_labels.labels_for(user, [("other", "tmux-server")])
    assert labels[("other", "tmux-server")].text.startswith("tmux server")


def test_consoles_name_their_processes_with_a_link(user):
    console = console_of(user, title="Python 3.12")
    labels = process_labels.labels_for(user, [("console", console.pk)])
    assert labels[("console", console.pk)] == Label(
        "Console: Python 3.12", f"/consoles/{console.pk}/"
    )


def test_a_tag_naming_someone_elses_console_is_not_looked_up_as_theirs(user, outsider):
    # The tag is whatever the process's environment says: alice can claim mallory's console.
    theirs = console_of(outsider, title="Secret project")
    labels = process_labels.labels_for(user, [("console", theirs.pk)])
    assert labels[("console", theirs.pk)] == Label("Console (ended)")


def test_labelling_a_page_of_consoles_takes_one_query(user, django_assert_num_queries):
    consoles = [console_of(user, title=f"Console {n}") for n in range(5)]
    with django_assert_num_queries(1):
        labels = process_labels.labels_for(user, [("console", c.pk) for c in consoles])
    assert len(labels) == 5


def test_unregister_forgets_a_kind(user, monkeypatch):
    monkeypatch.setattr(process_labels, "registry", dict(process_labels.registry))
    process_labels.unregister("console")
    assert process_labels.labels_for(user, [("console", "abc")]) == {
        ("console", "abc"): Label("Console (ended)")
    }
    process_labels.register("console", lambda owner, ids: {"abc": ("Mine", "/m/")})
    assert process_labels.labels_for(user, [("console", "abc")])[("console", "abc")].url == "/m/"
