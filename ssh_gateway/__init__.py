"""The SSH gateway: Debian's sshd with a config of its own, a key lookup and a forced command.

Standard library only, no Django (like the agents): ``sshd.py`` prepares and starts sshd,
``keys.py`` is its AuthorizedKeysCommand, ``session.py`` the forced command that opens the
session in the user's sandbox through the execution agent (op ``ssh_session``).
"""
