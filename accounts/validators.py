"""Username rules: every name must work as a Unix user name and as a DNS label.

A username becomes ``/home/<username>``, a line in a sandbox's /etc/passwd and the
host name ``<username>.<webapps domain>``, so it must satisfy all three at once.
"""

import grp
import pwd

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# The agents' own rule, defined once in the execution agent's validation module (stdlib
# only), so every name Warren accepts is one both agents accept.
from execution_agent.validation import USERNAME_RE

# Names that would collide with system accounts, our own URLs or well-known mailboxes and
# host names. System users of the host are checked separately, at validation time.
RESERVED_USERNAMES = frozenset(
    """
    abuse account accounts adm admin administrator api apps assets audio auth autoconfig
    autodiscover backup bin billing blog cdn console consoles daemon dashboard databases db
    dev docs download downloads email files forum forums ftp games git gnats help home
    hostmaster imap info irc list localhost login logout lp mail mailer-daemon man media
    mysql news nginx nobody noc noreply no-reply ns ns1 ns2 operator pop pop3 postgres
    postmaster proxy redis root sales security shop signup smtp ssh ssl static status staff
    support sync sys system task tasks teacher test uucp uwsgi web webapps webmail webmaster
    warren www www-data
    """.split()
)


def _exists_on_host(name: str) -> bool:
    for lookup in (pwd.getpwnam, grp.getgrnam):
        try:
            lookup(name)
        except KeyError:
            continue
        return True
    return False


@deconstructible
class UsernameValidator:
    """Lowercase letters, digits and hyphens; 3-30 characters; starts with a letter."""

    def __call__(self, value: str) -> None:
        if not 3 <= len(value) <= 30:
            raise ValidationError(
                "Usernames must be between 3 and 30 characters long.", code="length"
            )
        if not USERNAME_RE.match(value):
            raise ValidationError(
                "Use only lowercase letters, digits and hyphens, starting with a letter.",
                code="invalid",
            )
        if value.endswith("-"):
            raise ValidationError("Usernames cannot end with a hyphen.", code="invalid")
        if value[2:4] == "--":
            # "xn--" and friends are reserved for internationalised domain names.
            raise ValidationError(
                "Usernames cannot have two hyphens in the third and fourth places.",
                code="invalid",
            )
        if value in RESERVED_USERNAMES:
            raise ValidationError("Sorry, that username is reserved.", code="reserved")
        if _exists_on_host(value):
            raise ValidationError(
                "Sorry, that username is taken by a system account.", code="system"
            )

    def __eq__(self, other):
        return isinstance(other, UsernameValidator)


username_validators = [UsernameValidator()]
