import pwd

import pytest
from django.core.exceptions import ValidationError

from accounts.validators import RESERVED_USERNAMES, USERNAME_RE, UsernameValidator

validate = UsernameValidator()


@pytest.mark.parametrize("name", ["alice", "bob-smith", "a1b", "x" * 30, "dev-2024"])
def test_valid_unix_and_dns_names_are_accepted(name):
    validate(name)


@pytest.mark.parametrize(
    "name, message",
    [
        ("ab", "between 3 and 30"),
        ("x" * 31, "between 3 and 30"),
        ("Alice", "lowercase letters"),
        ("1alice", "starting with a letter"),
        ("-alice", "starting with a letter"),
        ("al_ice", "lowercase letters"),
        ("al.ice", "lowercase letters"),
        ("alice-", "cannot end with a hyphen"),
        ("xn--bcher-kva", "two hyphens"),
        ("ali ce", "lowercase letters"),
        ("alïce", "lowercase letters"),
    ],
)
def test_invalid_names_get_a_clear_message(name, message):
    with pytest.raises(ValidationError, match=message):
        validate(name)


@pytest.mark.parametrize("name", ["root", "admin", "www", "mail", "api", "static", "warren"])
def test_reserved_names_are_refused(name):
    with pytest.raises(ValidationError, match="reserved"):
        validate(name)


def a_system_user_that_looks_valid():
    for entry in pwd.getpwall():
        if USERNAME_RE.match(entry.pw_name) and entry.pw_name not in RESERVED_USERNAMES:
            return entry.pw_name
    pytest.skip("this host has no system user with a name that passes the other rules")


def test_names_of_system_users_on_this_host_are_refused():
    with pytest.raises(ValidationError, match="system account"):
        validate(a_system_user_that_looks_valid())


def test_both_agents_and_signup_share_one_username_rule():
    from execution_agent.validation import USERNAME_RE as EXECUTION_AGENT_RE
    from fileserver_agent.identities import USERNAME_RE as FILESERVER_RE

    assert USERNAME_RE.pattern == EXECUTION_AGENT_RE.pattern == FILESERVER_RE.pattern
