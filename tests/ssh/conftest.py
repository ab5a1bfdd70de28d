# The SSH gateway's fixtures live in tests/ssh/gateway.py: the browser story uses them too.
from tests.ssh.gateway import (  # noqa: F401
    gateway,
    gateway_account,
    gateway_dir,
    make_ssh_user,
    ssh_agent,
)
