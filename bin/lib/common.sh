# Shared set-up for bin/run and bin/test: each step checks before it acts, so a second run
# reuses what is installed and starts in seconds.
# shellcheck shell=bash

WARREN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="$WARREN_ROOT/.venv"

say() { printf '\033[1;32m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m!!\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Debian packages Warren runs with; tests add a browser. The database clients are the
# Databases tab's MySQL and psql consoles.
# openssh-server: the SSH gateway (ssh_gateway/), its own sshd on WARREN_SSH_PORT.
# uwsgi-plugin-python3 serves /usr/bin/python3.11; python3-flask/-bottle/-django make the Web
# tab's quick-start apps importable in a vassal's sandbox without a virtualenv.
RUN_PACKAGES=(tmux bubblewrap nginx uwsgi uwsgi-plugin-python3 python3-flask python3-bottle
    python3-django quota rsync procps util-linux acl nftables
    mariadb-client postgresql-client openssh-server)
# poppler-utils: the billing tests read invoice PDFs back (pdftotext) and render them (pdftoppm).
# pebble: the ACME test server the HTTPS certificate tests issue from.
TEST_PACKAGES=(chromium chromium-driver wrk poppler-utils pebble)

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            printf '%s\n' "$pkg"
    done
}

ensure_os_packages() {
    command -v dpkg-query >/dev/null || { warn "not a Debian system: install ${*} yourself"; return; }
    local wanted=("$@")
    # Python's venv module and Node.js may come from elsewhere (pyenv, nodesource): ask only
    # for what is truly absent.
    /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null ||
        python3 -c 'import venv, ensurepip' 2>/dev/null || wanted+=(python3-venv)
    command -v npm >/dev/null || wanted+=(nodejs npm)
    command -v python3 >/dev/null || wanted+=(python3)
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    [ ${#missing[@]} -eq 0 ] && return
    if ! is_root; then
        warn "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
        return
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# The distribution's Python, when it can make virtual environments: an interpreter under
# /root (pyenv, say) cannot be executed by the unprivileged 'warren' service user.
venv_python() {
    if /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
        echo /usr/bin/python3
    else
        command -v python3
    fi
}

ensure_python_env() {
    local lock=$1 stamp
    stamp="$VENV/.installed-$(basename "$lock").sha256"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the virtual environment in .venv"
        "$(venv_python)" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$(file_sha "$lock")" ]; then
        say "installing locked Python dependencies ($lock)"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --require-hashes --no-deps -r "$lock"
        file_sha "$lock" >"$stamp"
    fi
}

ensure_node_packages() {
    local stamp="$WARREN_ROOT/node_modules/.installed-package-lock.sha256"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$(file_sha "$WARREN_ROOT/package-lock.json")" ]; then
        say "installing locked front-end packages (npm ci)"
        (cd "$WARREN_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
        file_sha "$WARREN_ROOT/package-lock.json" >"$stamp"
    fi
}

use_venv() {
    export PATH="$VENV/bin:$PATH"
    export PYTHONPATH="$WARREN_ROOT${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1
}

# Exit with the fix unless USER can read the checkout ROOT and run VENV's Python: Django,
# Celery and Channels run as that user, never as root.
require_service_user_access() {
    local user=$1 root=$2 venv=$3
    runuser -u "$user" -- test -r "$root/manage.py" -a -x "$venv/bin/python" && return
    die "the '$user' user cannot read $root (or run $venv/bin/python), and Django must not run
   as root. Fix: clone Warren where other users can read it, for example
       git clone <this repository> /opt/warren && cd /opt/warren && ./bin/run
   or let '$user' traverse every directory above the checkout (see: namei -l $root/manage.py)."
}

# Exit with the fix unless a user's uid (a stand-in for every Warren user) can traverse each
# directory: bubblewrap binds homes and web dirs as the user, so /root/warren/var/homes fails.
require_users_can_traverse() {
    local uid=$1 dir
    shift
    for dir in "$@"; do
        setpriv --reuid="$uid" --regid="$uid" --clear-groups test -x "$dir" && continue
        die "users cannot reach $dir (a directory above it is closed to other users). Fix: clone
   Warren where other users can read it (for example /opt/warren), or set WARREN_HOMES_ROOT,
   WARREN_WWW_ROOT and WARREN_RUN_DIR to directories they can traverse."
    done
}

# --reset: stop what an earlier run left, then delete the embedded default's data directory.
reset_embedded_data() {
    local var_dir=$1 assume_yes=$2 answer
    [ -d "$var_dir" ] || { say "nothing to reset: $var_dir does not exist"; return; }
    if [ -z "$assume_yes" ]; then
        printf 'This deletes %s: the database, secrets, users and their homes and web apps.\n' \
            "$var_dir"
        read -r -p "Type 'yes' to go on: " answer || answer=""
        [ "$answer" = "yes" ] || die "nothing deleted"
    fi
    python -m execution_agent.teardown
    # Unmounted by the teardown; a mount still there would make rm -rf reach into it.
    if grep -q " $var_dir/" /proc/self/mountinfo; then
        die "something is still mounted under $var_dir; unmount it first"
    fi
    rm -rf --one-file-system "$var_dir"
    say "deleted $var_dir; ./bin/run starts afresh"
}
