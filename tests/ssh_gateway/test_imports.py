"""The gateway runs under the system python3 (sshd's commands, the systemd unit): standard
library only, no Django, no virtualenv."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_gateway_imports_with_the_bare_system_python():
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no system python3")
    code = (
        "import sys, ssh_gateway.sshd, ssh_gateway.keys, ssh_gateway.session\n"
        "print('django' in sys.modules)\n"
    )
    result = subprocess.run(
        ["/usr/bin/python3", "-S", "-c", code],  # -S: no site-packages at all
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
