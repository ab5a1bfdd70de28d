"""The rules every Warren component applies to user names and numeric ids."""

import re

# A valid Unix user name and DNS label; the agent re-checks what Django already checked.
USERNAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
# 2**32 - 1 is (uid_t)-1, which chown(2) reads as "leave unchanged" and quotactl refuses.
MAX_ID = 2**32 - 2
