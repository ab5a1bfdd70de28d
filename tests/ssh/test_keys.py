"""The parser of pasted public keys: what it takes, what it refuses, and why it says so."""

import base64
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from config.errors import AppError
from ssh.keys import fingerprint_of, parse_keys
from tests.ssh.keygen import ecdsa_line, ed25519_line, rsa_line


def test_an_ed25519_key_is_read_with_its_comment_and_fingerprint(tmp_path):
    line = ed25519_line("alice@laptop")
    (key,) = parse_keys(line + "\n")
    assert (key.key_type, key.bits, key.comment) == ("ssh-ed25519", 256, "alice@laptop")
    # The fingerprint is OpenSSH's own.
    (tmp_path / "k.pub").write_text(line + "\n")
    shown = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert shown.stdout.split()[1] == key.fingerprint
    assert fingerprint_of("ssh-ed25519", key.key_data) == key.fingerprint


@pytest.mark.parametrize(
    "curve, bits", [(ec.SECP256R1, 256), (ec.SECP384R1, 384), (ec.SECP521R1, 521)]
)
def test_ecdsa_keys_are_accepted(curve, bits):
    (key,) = parse_keys(ecdsa_line(curve))
    assert key.bits == bits


def test_rsa_of_2048_bits_is_accepted_and_1024_refused():
    assert parse_keys(rsa_line(2048))[0].bits == 2048
    with pytest.raises(AppError, match="at least 2048 bits"):
        parse_keys(rsa_line(1024))


def test_dsa_and_security_key_types_are_refused():
    with pytest.raises(AppError, match="'ssh-dss' is not accepted"):
        # Refused by its type before its data is read (cryptography deprecates DSA anyway).
        parse_keys("ssh-dss AAAAB3NzaC1kc3MAAACBAKvq alice@old-laptop")
    with pytest.raises(AppError, match="not accepted"):
        parse_keys("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t")


def test_several_keys_one_per_line_and_the_bad_line_is_named():
    good, other = ed25519_line(), ecdsa_line()
    assert len(parse_keys(f"{good}\n\n# laptop\n{other}\n")) == 2
    with pytest.raises(AppError, match=r"^Line 2: the key is not valid base64"):
        parse_keys(f"{good}\nssh-ed25519 not*base64\n")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Paste a public key"),
        ("ssh-ed25519", "expected a key type, then the key"),
        ('command="sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5', "options before the key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
        ("ssh-ed25519 " + base64.b64encode(b"\0\0\0\x07ssh-rsa").decode(), "does not match"),
        ("ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x01x").decode(),
         "not a valid public key"),
        ("ssh-rsa " + "A" * 5000, "at most 4096 characters"),
        ("x" * (65 * 1024), "more than 64 KiB"),
    ],
)  # fmt: skip
def test_malformed_or_huge_input_is_refused_with_a_reason(text, message):
    with pytest.raises(AppError, match=message):
        parse_keys(text)


def test_a_comment_with_control_characters_is_refused():
    with pytest.raises(AppError, match="comment"):
        parse_keys(ed25519_line("evil\x1b[2J"))
