"""The console websocket, through the real ASGI stack, a real agent, tmux and bash."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async

from consoles import services, tmux
from consoles.models import Console, Share
from tests.consoles.conftest import ORIGIN, communicator_for, screen_of, session_cookie

pytestmark = [
    pytest.mark.root,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PROMPT = b"$ "


@pytest.fixture
def bash(owner):
    return services.console_start(owner=owner, kind=Console.Kind.BASH)


def share(console, user, *, read_only: bool) -> Share:
    return services.console_share(console=console, username=user.username, read_only=read_only)


async def test_output_arrives_and_input_reaches_the_shell(bash, owner, open_terminal):
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    await terminal.run("echo answer-$((6*7))", b"answer-42")


async def test_owner_resize_changes_the_window(bash, owner, open_terminal):
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    await terminal.control({"type": "resize", "rows": 31, "cols": 101})
    await asyncio.sleep(0.2)
    await terminal.run("stty size", b"31 101")


async def test_read_only_viewer_cannot_type_or_resize(bash, owner, viewer, open_terminal):
    await database_sync_to_async(share)(bash, viewer, read_only=True)
    mine = await open_terminal(bash.pk, owner, query="rows=24&cols=80")
    await mine.until(PROMPT)
    theirs = await open_terminal(bash.pk, viewer, query="rows=10&cols=30")
    await theirs.type("echo viewer-typed-$((2+2))\r")
    await theirs.control({"type": "resize", "rows": 12, "cols": 40})
    await asyncio.sleep(0.5)
    # The viewer sees what the owner does, at the owner's size.
    await mine.run("stty size; echo size-shown", b"size-shown")
    await mine.until(b"24 80")
    await theirs.until(b"24 80")
    screen = await database_sync_to_async(screen_of)(bash)
    assert "viewer-typed-4" not in screen


async def test_read_write_sharee_can_type(bash, owner, viewer, open_terminal):
    await database_sync_to_async(share)(bash, viewer, read_only=False)
    theirs = await open_terminal(bash.pk, viewer)
    await theirs.until(PROMPT)
    await theirs.run("echo helper-$((3*3))", b"helper-9")


@pytest.mark.parametrize("who", ["stranger", "anonymous"])
async def test_everyone_else_is_refused(bash, stranger, who):
    cookie = await database_sync_to_async(session_cookie)(stranger) if who == "stranger" else None
    communicator = communicator_for(bash.pk, cookie)
    connected, code = await communicator.connect(timeout=10)
    assert not connected
    assert code == 4403


async def test_unknown_console_is_refused_like_someone_elses(owner):
    cookie = await database_sync_to_async(session_cookie)(owner)
    communicator = communicator_for("0" * 32, cookie)
    connected, code = await communicator.connect(timeout=10)
    assert (connected, code) == (False, 4403)


async def test_a_foreign_origin_is_refused_before_the_consumer(bash, owner):
    cookie = await database_sync_to_async(session_cookie)(owner)
    for origin in ((b"origin", b"http://evil.example"), None):
        communicator = communicator_for(bash.pk, cookie, origin=origin)
        connected, _ = await communicator.connect(timeout=10)
        assert not connected


async def test_revoked_viewer_is_disconnected_at_once(bash, owner, viewer, open_terminal, settings):
    settings.WARREN_CONSOLE_ACCESS_RECHECK_SECONDS = 60  # only the group message can do it
    made = await database_sync_to_async(share)(bash, viewer, read_only=True)
    theirs = await open_terminal(bash.pk, viewer)
    started = time.monotonic()
    await database_sync_to_async(services.console_unshare)(share=made)
    closed = await theirs.closed_within(2)
    assert closed["code"] == 4403
    assert "stopped sharing" in closed["reason"]
    assert time.monotonic() - started < 2


async def test_revocation_made_elsewhere_is_noticed_by_the_recheck(
    bash, owner, viewer, open_terminal, settings
):
    # A revocation whose group message this process never hears (another process, with the
    # in-memory channel layer): deleting the row is all it leaves behind.
    settings.WARREN_CONSOLE_ACCESS_RECHECK_SECONDS = 1
    made = await database_sync_to_async(share)(bash, viewer, read_only=True)
    theirs = await open_terminal(bash.pk, viewer)
    await database_sync_to_async(Share.objects.filter(pk=made.pk).delete)()
    closed = await theirs.closed_within(4)
    assert closed["code"] == 4403


async def test_changing_a_share_to_read_only_reconnects_the_viewer(
    bash, owner, viewer, open_terminal, settings
):
    settings.WARREN_CONSOLE_ACCESS_RECHECK_SECONDS = 60
    await database_sync_to_async(share)(bash, viewer, read_only=False)
    theirs = await open_terminal(bash.pk, viewer)
    await database_sync_to_async(share)(bash, viewer, read_only=True)
    closed = await theirs.closed_within(3)
    assert closed["code"] == 4409


async def test_yes_then_ctrl_c_brings_the_prompt_back_within_a_second(bash, owner, open_terminal):
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    # The same command on the idle shell first: on a loaded CI machine a round trip alone
    # can take a while, and the second we promise is on top of what the machine costs.
    started = time.monotonic()
    await terminal.type("echo idle-$((40+2))\r")
    await terminal.until(b"idle-42", timeout=5)
    baseline = time.monotonic() - started
    await terminal.type("yes\r")
    await terminal.until(b"y\x1b[K\r\ny\x1b[K\r\ny")
    flood_until = asyncio.get_running_loop().time() + 1.0
    while asyncio.get_running_loop().time() < flood_until:
        await terminal.until(b"y")
    started = time.monotonic()
    await terminal.type(b"\x03")
    await terminal.type("echo back-$((40+2))\r")
    await terminal.until(b"back-42", timeout=5)
    assert time.monotonic() - started < 1.0 + 2 * baseline


async def test_unacknowledged_output_pauses_reading(bash, owner, open_terminal):
    # A client that never acknowledges gets no more than the high watermark and a frame.
    from consoles.bridge import FRAME_MAX, HIGH_WATERMARK

    cookie = await database_sync_to_async(session_cookie)(owner)
    communicator = communicator_for(bash.pk, cookie)
    assert (await communicator.connect(timeout=10))[0]
    await communicator.send_to(bytes_data=b"yes\r")
    received = 0
    # receive_nothing, unlike receive_output, does not cancel the application on a timeout.
    while not await communicator.receive_nothing(timeout=1.5, interval=0.01):
        message = await communicator.receive_output()
        received += len(message.get("bytes") or b"")
    assert 0 < received <= HIGH_WATERMARK + FRAME_MAX
    await communicator.send_to(bytes_data=b"\x03")
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        json.dumps({"type": "launch-missiles"}),
        json.dumps({"type": "resize", "rows": 24, "cols": 0}),
        json.dumps({"type": "resize", "rows": 24, "cols": 100000}),
        json.dumps({"type": "resize", "rows": "24", "cols": "80"}),
        json.dumps({"type": "ack", "bytes": -5}),
        json.dumps({"type": "ack", "bytes": 10**12}),
        json.dumps({"type": "ack", "bytes": True}),
        json.dumps({"type": "resize", "pad": "x" * 5000}),
    ],
)
async def test_malformed_control_frames_get_an_error_and_change_nothing(
    bash, owner, open_terminal, frame
):
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    await terminal.control(frame)
    error = await terminal.control_until("error")
    assert error["message"]
    await terminal.run("stty size; echo still-$((1+1))", b"still-2")
    assert b"24 80" in terminal.output


async def test_closing_the_socket_ends_the_attach_client(bash, owner, open_terminal):
    def attach_clients() -> int:
        consoles = tmux._agent(bash).console_list(user={"uid": owner.uid, "username": "alice"})
        return next(c["clients"] for c in consoles if c["console_id"] == bash.pk)

    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    assert await asyncio.to_thread(attach_clients) == 1
    await terminal.communicator.disconnect()
    for _ in range(50):
        if not await asyncio.to_thread(attach_clients):
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(attach_clients) == 0
    # ...and the console itself runs on.
    alive = await asyncio.to_thread(tmux.live_states, owner)
    assert alive[bash.pk] is True


async def test_an_agent_restart_leaves_the_page_on_its_console(
    bash, owner, open_terminal, exec_agent
):
    # The agent's own attach clients end with it: the terminal hangs up, and the socket
    # attaches again once the agent answers, without the page noticing.
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    await terminal.run("echo before-$((6*7))", b"before-42")
    await asyncio.to_thread(exec_agent.stop)
    await asyncio.sleep(0.5)  # the socket waits for the agent meanwhile, and stays open
    await terminal.type("echo typed-meanwhile-$((6*7))\r")  # kept for the new terminal
    await asyncio.to_thread(exec_agent.start)
    await terminal.until(b"typed-meanwhile-42", timeout=20)
    await terminal.run("echo after-$((6*7))", b"after-42")
    assert "before-42" in await asyncio.to_thread(screen_of, bash)
    assert not [c for c in terminal.controls if c.get("type") == "exit"]
    assert terminal.closed is None


async def test_killing_the_console_ends_the_socket_with_exit(bash, owner, open_terminal):
    terminal = await open_terminal(bash.pk, owner)
    await terminal.until(PROMPT)
    await database_sync_to_async(services.console_kill)(console=bash)
    await terminal.control_until("exit", timeout=5)
    closed = await terminal.closed_within(3)
    assert closed["code"] == 1000


async def test_a_console_whose_session_is_gone_says_so(bash, owner):
    await asyncio.to_thread(tmux.kill, bash)
    cookie = await database_sync_to_async(session_cookie)(owner)
    communicator = communicator_for(bash.pk, cookie)
    assert (await communicator.connect(timeout=10))[0]
    message = await communicator.receive_output(timeout=10)
    assert json.loads(message["text"])["type"] == "error"
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4404, "reason": closed["reason"]}


def test_origin_header_constant_is_an_allowed_host():
    assert ORIGIN[1].endswith(b"127.0.0.1")
