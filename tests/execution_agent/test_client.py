"""The stdlib client Django uses: errors, unavailability, and fds handed to the caller."""

from __future__ import annotations

import os

import pytest

from execution_agent.client import AgentClient, AgentError, AgentUnavailable


def test_a_missing_socket_is_reported_as_unavailable(tmp_path):
    with pytest.raises(AgentUnavailable, match="execution agent"):
        AgentClient(str(tmp_path / "nothing.sock"), timeout=1).info()


@pytest.mark.root
def test_refusals_carry_code_message_and_errno(client, alice):
    with pytest.raises(AgentError) as error:
        client.fs_mkdir(user=alice, path="missing/child")
    assert (error.value.code, error.value.errno) == ("not_found", "ENOENT")
    assert "mkdir" in error.value.message


@pytest.mark.root
def test_received_file_descriptors_belong_to_the_caller(client, harness, alice):
    (harness.homes / alice["username"] / "hello.txt").write_text("hello")
    fd, size = client.fs_open(user=alice, path="hello.txt", mode="r")
    try:
        assert size == 5
        assert os.get_inheritable(fd) is False  # received with MSG_CMSG_CLOEXEC
        assert os.read(fd, 100) == b"hello"
    finally:
        os.close(fd)
