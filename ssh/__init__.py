"""SSH keys (the Account tab's card) and the narrow lookup the SSH gateway asks them through."""
