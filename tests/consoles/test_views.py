"""The Consoles tab, console pages, launchers, sharing and limits, over HTTP with real agents."""

import os
import time

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from accounts.models import Plan
from consoles import services, tmux
from consoles.dashboard import consoles_card
from consoles.models import Console, Launcher, Preferences, Share
from consoles.process_labels import console_labels
from servers import process_labels
from servers.agents import execution_agent, user_ref

pytestmark = pytest.mark.root


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start(client, **data):
    return client.post(reverse("consoles:start"), data)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def wait_for_screen(console, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.capture(console, lines=200)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not on screen:\n{screen}")


# --- starting and listing -------------------------------------------------------------------


def test_bash_button_starts_a_console_and_opens_its_page(owner):
    client = client_for(owner)
    response = start(client, kind="bash")
    console = Console.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == f"/consoles/{console.pk}/"
    assert len(console.pk) == 32 and console.server is not None
    assert tmux.live_states(owner)[console.pk] is True
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert f"/ws/consoles/{console.pk}/" in page.content.decode()


def test_python_console_runs_the_chosen_version(owner):
    version = tmux.agent_facts()["pythons"][-1]
    client = client_for(owner)
    start(client, kind="python", version=version)
    console = Console.objects.get(owner=owner)
    assert console.argv == [f"python{version}"]
    wait_for_screen(console, ">>>")


def test_a_python_version_that_is_not_installed_is_refused(owner):
    client = client_for(owner)
    response = start(client, kind="python", version="2.7")
    assert response.status_code == 302
    assert not Console.objects.exists()
    assert any("not installed" in m for m in messages_of(client.get(response["Location"])))


def test_consoles_tab_lists_consoles_buttons_and_shares(
    owner, viewer, django_assert_max_num_queries
):
    mine = services.console_start(owner=owner, kind="bash")
    theirs = services.console_start(owner=viewer, kind="bash")
    services.console_share(console=theirs, username="alice", read_only=True)
    services.launcher_create(owner=owner, name="Venv", command="echo venv")
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("consoles:index"))
    html = page.content.decode()
    assert page.status_code == 200
    assert mine.get_absolute_url() in html
    assert theirs.get_absolute_url() in html and "from <strong>bob</strong>" in html
    for version in tmux.agent_facts()["pythons"]:
        assert f"Python {version}" in html
    assert "Venv" in html and "Running" in html


def test_a_console_whose_program_ended_is_shown_finished_and_restarts(owner):
    console = services.console_start(owner=owner, kind="bash")
    pane = next(c for c in execution_agent().console_list(user=user_ref(owner)))["pane_pid"]
    execution_agent().signal(user=user_ref(owner), pid=pane, signal="KILL")
    client = client_for(owner)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        page = client.get(reverse("consoles:index"))
        if "Restart" in page.content.decode():
            break
        time.sleep(0.1)
    console.refresh_from_db()
    assert console.state == Console.State.DEAD
    response = client.post(reverse("consoles:restart", args=[console.pk]))
    assert response.status_code == 302
    console.refresh_from_db()
    assert console.state == Console.State.RUNNING
    assert tmux.live_states(owner)[console.pk] is True


def test_kill_ends_the_console_and_its_whole_process_tree(owner):
    console = services.console_start(owner=owner, kind="bash")
    ref = user_ref(owner)
    agent = execution_agent()
    client = client_for(owner)
    term_fd = tmux.attach(console, read_only=False, rows=24, cols=80)
    try:
        # A child that ignores SIGHUP, started inside the console's tree.
        os.write(term_fd, b"nohup sleep 600 >/dev/null 2>&1 &\r")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            tagged = [p for p in agent.processes(user=ref) if p["tag_id"] == console.pk]
            if any(p["cmdline"][:1] == ["sleep"] for p in tagged):
                break
            time.sleep(0.05)
    finally:
        os.close(term_fd)
    response = client.post(reverse("consoles:kill", args=[console.pk]))
    assert response.status_code == 302
    assert not Console.objects.filter(pk=console.pk).exists()
    assert console.pk not in tmux.live_states(owner)
    assert not [p for p in agent.processes(user=ref) if p["tag_id"] == console.pk]


def test_the_plans_console_limit_names_the_plan_that_allows_more(owner):
    client = client_for(owner)
    start(client, kind="bash")
    start(client, kind="bash")
    response = start(client, kind="bash")
    assert Console.objects.filter(owner=owner).count() == 2
    follow = client.get(response["Location"])
    text = " ".join(messages_of(follow))
    assert "Beginner plan allows 2 running consoles" in text
    assert "Hacker plan allows more" in text


def test_a_console_that_ended_unseen_does_not_block_a_new_one(owner):
    services.console_start(owner=owner, kind="bash")
    second = services.console_start(owner=owner, kind="bash")
    tmux.kill(second)  # gone behind Warren's back; the database still says running
    services.console_start(owner=owner, kind="bash")
    assert Console.objects.filter(owner=owner, state="running").count() == 2


def test_finished_consoles_do_not_count_against_the_limit(owner):
    first = services.console_start(owner=owner, kind="bash")
    services.console_start(owner=owner, kind="bash")
    Console.objects.filter(pk=first.pk).update(state=Console.State.DEAD)
    services.console_start(owner=owner, kind="bash")
    assert Console.objects.filter(owner=owner, state="running").count() == 2


def test_a_paying_user_may_run_more(owner):
    owner.plan = Plan.objects.get(slug="hacker")
    owner.save()
    for _ in range(3):
        services.console_start(owner=owner, kind="bash")
    assert Console.objects.filter(owner=owner).count() == 3


# --- who may see what ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["console", "frame"])
def test_pages_of_a_console_are_404_to_anyone_but_owner_and_sharees(owner, stranger, name):
    console = services.console_start(owner=owner, kind="bash")
    url = reverse(f"consoles:{name}", args=[console.pk])
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(owner).get(url).status_code == 200
    assert client_for(owner).get(reverse(f"consoles:{name}", args=["f" * 32])).status_code == 404


@pytest.mark.parametrize("name", ["kill", "restart", "share"])
def test_owner_actions_are_404_to_others_and_change_nothing(owner, viewer, stranger, name):
    console = services.console_start(owner=owner, kind="bash")
    services.console_share(console=console, username="bob", read_only=False)
    for someone in (stranger, viewer):
        response = client_for(someone).post(
            reverse(f"consoles:{name}", args=[console.pk]), {"username": someone.username}
        )
        assert response.status_code == 404
    assert tmux.live_states(owner)[console.pk] is True
    assert list(Share.objects.values_list("user__username", flat=True)) == ["bob"]


def test_revoke_is_404_to_others(owner, viewer, stranger):
    console = services.console_start(owner=owner, kind="bash")
    made = services.console_share(console=console, username="bob", read_only=True)
    url = reverse("consoles:unshare", args=[console.pk, made.pk])
    assert client_for(stranger).post(url).status_code == 404
    assert client_for(viewer).post(url).status_code == 404
    assert Share.objects.filter(pk=made.pk).exists()
    assert client_for(owner).post(url).status_code == 302
    assert not Share.objects.filter(pk=made.pk).exists()


def test_a_sharee_sees_the_console_read_only_without_owner_controls(owner, viewer):
    console = services.console_start(owner=owner, kind="bash")
    services.console_share(console=console, username="bob", read_only=True)
    page = client_for(viewer).get(console.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200
    assert "read-only" in html and "Revoke" not in html
    assert page.context["terminal_config"]["read_only"] is True


def test_frame_is_the_terminal_alone(owner):
    console = services.console_start(owner=owner, kind="bash")
    html = client_for(owner).get(reverse("consoles:frame", args=[console.pk])).content.decode()
    assert 'id="terminal"' in html
    assert "topbar" not in html and "Share" not in html


# --- sharing -------------------------------------------------------------------------------


def test_share_by_username_then_change_mode(owner, viewer):
    console = services.console_start(owner=owner, kind="bash")
    client = client_for(owner)
    url = reverse("consoles:share", args=[console.pk])
    client.post(url, {"username": "bob", "mode": "read-only"})
    assert Share.objects.get().read_only is True
    client.post(url, {"username": "BOB", "mode": "read-write"})
    assert Share.objects.get().read_only is False
    assert Share.objects.count() == 1


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("alice", "You cannot share a console with yourself."),
        ("", "Enter the username to share with."),
    ],
)
def test_bad_shares_are_refused_with_a_message(owner, username, message):
    console = services.console_start(owner=owner, kind="bash")
    client = client_for(owner)
    response = client.post(
        reverse("consoles:share", args=[console.pk]), {"username": username}, follow=True
    )
    assert message in messages_of(response)
    assert not Share.objects.exists()


def test_sharing_with_a_username_nobody_has_shares_nothing(owner):
    console = services.console_start(owner=owner, kind="bash")
    response = client_for(owner).post(
        reverse("consoles:share", args=[console.pk]), {"username": "nobody-here"}, follow=True
    )
    assert "Shared with nobody-here (read-only) if that user exists." in messages_of(response)
    assert not Share.objects.exists()


# --- launchers -----------------------------------------------------------------------------


def test_launcher_add_edit_and_delete(owner):
    client = client_for(owner)
    client.post(
        reverse("consoles:launcher_create"),
        {"name": "Greeter", "command": "echo hi", "working_directory": ""},
    )
    launcher = Launcher.objects.get(owner=owner)
    assert "Greeter" in client.get(reverse("consoles:index")).content.decode()
    edit_url = reverse("consoles:launcher_edit", args=[launcher.pk])
    assert client.get(edit_url).status_code == 200
    response = client.post(
        edit_url, {"name": "Greeter 2", "command": "echo hello", "working_directory": "~/project"}
    )
    assert response.status_code == 302
    launcher.refresh_from_db()
    assert (launcher.name, launcher.command, launcher.working_directory) == (
        "Greeter 2",
        "echo hello",
        "/home/alice/project",
    )
    client.post(reverse("consoles:launcher_delete", args=[launcher.pk]))
    assert not Launcher.objects.exists()


def test_launcher_starts_its_command_in_its_folder(owner):
    execution_agent().fs_mkdir(user=user_ref(owner), path="project")
    launcher = services.launcher_create(
        owner=owner,
        name="Greeter",
        command="pwd; echo hi-$((5*5)); exec bash",
        working_directory="project",
    )
    assert launcher.working_directory == "/home/alice/project"
    response = start(client_for(owner), kind="custom", launcher=launcher.pk)
    console = Console.objects.get(owner=owner)
    assert response["Location"] == console.get_absolute_url()
    screen = wait_for_screen(console, "hi-25")
    assert "/home/alice/project" in screen


def test_launcher_in_a_folder_that_is_gone_gets_a_message(owner):
    launcher = services.launcher_create(
        owner=owner, name="Lost", command="bash", working_directory="nowhere"
    )
    client = client_for(owner)
    response = start(client, kind="custom", launcher=launcher.pk)
    follow = client.get(response["Location"])
    assert response.status_code == 302
    assert not Console.objects.exists()
    assert follow.status_code == 200
    assert any("does not exist" in m for m in messages_of(follow)), messages_of(follow)


def test_someone_elses_launcher_cannot_be_used_edited_or_deleted(owner, stranger):
    launcher = services.launcher_create(owner=owner, name="Mine", command="bash")
    client = client_for(stranger)
    start(client, kind="custom", launcher=launcher.pk)
    assert not Console.objects.exists()
    assert client.get(reverse("consoles:launcher_edit", args=[launcher.pk])).status_code == 404
    assert (
        client.post(reverse("consoles:launcher_edit", args=[launcher.pk]), {"name": "x"})
    ).status_code == 404
    assert client.post(reverse("consoles:launcher_delete", args=[launcher.pk])).status_code == 404
    assert Launcher.objects.get().name == "Mine"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "command": "bash"}, "Give the launcher a name."),
        ({"name": "   ", "command": "bash"}, "Give the launcher a name."),
        ({"name": "Empty", "command": ""}, "Give the launcher a command to run."),
        ({"name": "Out", "command": "bash", "working_directory": "/etc"}, "inside your home"),
        ({"name": "Up", "command": "bash", "working_directory": "../bob"}, "'..'"),
        ({"name": "Up", "command": "bash", "working_directory": "/home/alice/../bob"}, "'..'"),
        ({"name": "Near", "command": "bash", "working_directory": "/home/alicex"}, "inside"),
        ({"name": "x" * 61, "command": "bash"}, "under 60 characters"),
    ],
)
def test_bad_launchers_are_refused_and_nothing_is_written(owner, fields, message):
    client = client_for(owner)
    response = client.post(reverse("consoles:launcher_create"), fields, follow=True)
    assert any(message in text for text in messages_of(response)), messages_of(response)
    assert not Launcher.objects.exists()


def test_a_bad_edit_shows_the_message_and_keeps_the_launcher(owner):
    launcher = services.launcher_create(owner=owner, name="Keep", command="bash")
    response = client_for(owner).post(
        reverse("consoles:launcher_edit", args=[launcher.pk]),
        {"name": "Changed", "command": "", "working_directory": ""},
    )
    assert response.status_code == 400
    assert "Give the launcher a command to run." in response.content.decode()
    launcher.refresh_from_db()
    assert (launcher.name, launcher.command) == ("Keep", "bash")


# --- Save and Run and the default Python ----------------------------------------------------


def write_home_file(owner, path: str, text: str) -> None:
    fd, _ = execution_agent().fs_open(user=user_ref(owner), path=path, mode="w")
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def test_save_and_run_prints_the_scripts_output_in_a_console_in_its_folder(owner):
    execution_agent().fs_mkdir(user=user_ref(owner), path="code")
    write_home_file(owner, "code/hello.py", "import os\nprint('hello from', 6 * 7, os.getcwd())\n")
    response = client_for(owner).post(
        reverse("consoles:run_file"), {"path": "/home/alice/code/hello.py"}
    )
    assert response.status_code == 200
    answer = response.json()
    console = Console.objects.get(pk=answer["console"])
    assert answer["url"] == console.get_absolute_url()
    assert console.kind == Console.Kind.RUN and console.cwd == "/home/alice/code"
    screen = wait_for_screen(console, "hello from 42 /home/alice/code")
    assert ">>>" in wait_for_screen(console, ">>>")
    assert screen


def test_running_the_same_file_again_replaces_its_console(owner):
    write_home_file(owner, "again.py", "print('run')\n")
    client = client_for(owner)
    first = client.post(reverse("consoles:run_file"), {"path": "/home/alice/again.py"}).json()
    client.post(reverse("consoles:run_file"), {"path": "/home/alice/again.py"})
    second = client.post(reverse("consoles:run_file"), {"path": "/home/alice/again.py"}).json()
    assert list(Console.objects.values_list("pk", flat=True)) == [second["console"]]
    assert first["console"] not in tmux.live_states(owner)


def test_save_and_run_uses_the_default_python_chosen_on_the_account_tab(owner):
    version = tmux.agent_facts()["pythons"][0]
    client = client_for(owner)
    account = client.get(reverse("account")).content.decode()
    assert "Python for Save and Run" in account
    client.post(reverse("consoles:preferences"), {"version": version})
    assert Preferences.objects.get(user=owner).default_python == version
    write_home_file(owner, "v.py", "import sys\nprint('version', sys.version_info[:2])\n")
    answer = client.post(reverse("consoles:run_file"), {"path": "~/v.py"}).json()
    console = Console.objects.get(pk=answer["console"])
    assert console.argv[0] == f"python{version}"
    major, minor = version.split(".")
    wait_for_screen(console, f"version ({major}, {minor})")


def test_an_uninstalled_default_python_is_refused(owner):
    response = client_for(owner).post(
        reverse("consoles:preferences"), {"version": "2.7"}, follow=True
    )
    assert any("not installed" in text for text in messages_of(response))
    assert not Preferences.objects.exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "inside your home"),
        ("/home/alice/../bob/x.py", "'..'"),
        ("/home/alice/missing.py", "There is no file"),
        ("/home/alice", "Choose a file"),
        ("/home/alice/folder", "is not a file"),
        ("", "Choose a file"),
    ],
)
def test_save_and_run_refuses_bad_paths_with_a_reason(owner, path, message):
    execution_agent().fs_mkdir(user=user_ref(owner), path="folder")
    response = client_for(owner).post(reverse("consoles:run_file"), {"path": path})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Console.objects.exists()


def test_save_and_run_button_is_offered_for_python_files_in_the_home_only():
    html = render_to_string(
        "consoles/editor/save_and_run.html", {"path": "/home/alice/x.py", "area": "home"}
    )
    assert "Save and Run" in html and 'data-path="/home/alice/x.py"' in html
    assert "Save and Run" not in render_to_string(
        "consoles/editor/save_and_run.html", {"path": "/home/alice/notes.txt", "area": "home"}
    )
    # A WSGI file: Save and Run would refuse its folder; the web app's Reload is offered there.
    wsgi = {"path": "/var/www/alice_localhost_wsgi.py", "area": "www"}
    assert "Save and Run" not in render_to_string("consoles/editor/save_and_run.html", wsgi)


# --- the Processes page's labels -------------------------------------------------------------


def test_console_labels_name_the_owners_consoles_only(owner, viewer):
    mine = services.console_start(owner=owner, kind="bash")
    theirs = services.console_start(owner=viewer, kind="bash")
    labels = console_labels(owner, [mine.pk, theirs.pk, "tmux-server"])
    assert labels == {mine.pk: ("Console: Bash", mine.get_absolute_url())}


def test_console_labels_are_registered_for_the_processes_page(owner):
    # Registered by ConsolesConfig.ready(): nothing to register here.
    console = services.console_start(owner=owner, kind="bash")
    labels = process_labels.labels_for(owner, [("console", console.pk)])
    assert labels[("console", console.pk)].text == "Console: Bash"
    assert labels[("console", console.pk)].url == console.get_absolute_url()


@pytest.mark.parametrize("model", ["console", "launcher", "share", "preferences"])
def test_admin_lists_and_searches_every_consoles_model(owner, viewer, staff_client, model):
    console = services.console_start(owner=owner, kind="bash")
    services.console_share(console=console, username="bob", read_only=True)
    services.launcher_create(owner=owner, name="Venv", command="bash")
    Preferences.objects.create(user=owner, default_python="3.11")
    url = reverse(f"admin:consoles_{model}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "alice"}).status_code == 200


def test_dashboard_card_lists_consoles_without_asking_the_agent(
    owner, rf, django_assert_max_num_queries
):
    console = services.console_start(owner=owner, kind="bash")
    request = rf.get("/")
    request.user = owner
    with django_assert_max_num_queries(2):
        card = consoles_card(request)
        html = render_to_string(card.template, {"card": card.context})
    assert "1 running" in html and console.get_absolute_url() in html
    assert (
        console.get_absolute_url() in client_for(owner).get(reverse("dashboard")).content.decode()
    )
