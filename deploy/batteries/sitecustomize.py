# Warren's batteries: bound over the system Python's sitecustomize in every sandbox.
# Outside a virtualenv, the shared read-only packages come after every other site directory
# (Debian's own python3-* packages win); inside one they are left out, so the virtualenv's
# packages win and pip installs into it what the user asks for.
import site
import sys

if sys.prefix == sys.base_prefix:
    site.addsitedir("/opt/warren/site-packages")
