"""Writes about consoles, a module per domain; each service owns its transaction.

- consoles: start, kill, restart, and syncing the recorded states (and the helpers the others
  share: the running-console limit, telling attached sockets on commit)
- run: Save and Run
- sharing: share and unshare
- launchers: custom launchers
- preferences: the Python Save and Run uses

The services are re-exported here, so views call ``services.console_start`` and the like.
"""

from consoles.services.consoles import (
    console_kill,
    console_restart,
    console_send_input,
    console_server_here,
    console_start,
    console_states_sync,
)
from consoles.services.launchers import launcher_create, launcher_delete, launcher_update
from consoles.services.preferences import preferences_set_python
from consoles.services.run import console_run_file
from consoles.services.sharing import console_share, console_unshare

__all__ = [
    "console_kill",
    "console_restart",
    "console_run_file",
    "console_send_input",
    "console_server_here",
    "console_share",
    "console_start",
    "console_states_sync",
    "console_unshare",
    "launcher_create",
    "launcher_delete",
    "launcher_update",
    "preferences_set_python",
]
