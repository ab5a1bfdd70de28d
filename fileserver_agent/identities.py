"""The rules every Warren component applies to user names and numeric ids."""

# A valid Unix user name and DNS label: the rule the execution agent and Django's sign-up
# apply, defined once in the execution agent's stdlib-only validation module (the file server
# ships beside it already). This agent re-checks what Django already checked.
from execution_agent.validation import USERNAME_RE

__all__ = ["MAX_ID", "USERNAME_RE"]

# 2**32 - 1 is (uid_t)-1, which chown(2) reads as "leave unchanged" and quotactl refuses.
MAX_ID = 2**32 - 2
