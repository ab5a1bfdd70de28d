"""Uploaded certificates: what is accepted, and the sentence each bad upload gets."""

import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from config.errors import AppError
from tests.certs import TestCA, cert_pem, key_pem, self_signed
from webapps.certificates import MAX_PEM_BYTES, certificate_check, name_covers

DOMAIN = "www.example.org"


@pytest.fixture(scope="module")
def ca():
    return TestCA()


def refused(**kwargs) -> AppError:
    with pytest.raises(AppError) as caught:
        certificate_check(**kwargs)
    return caught.value


@pytest.mark.parametrize("key_kind", ["ec", "rsa"])
def test_a_good_chain_and_key_are_accepted_and_described(ca, key_kind):
    leaf = ca.leaf(DOMAIN, "example.org", key_kind=key_kind)
    checked = certificate_check(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN)
    assert checked.names == [DOMAIN, "example.org"]
    assert checked.issuer == "Warren Test CA Intermediate"
    assert checked.not_after == leaf.cert.not_valid_after_utc
    assert checked.chain_pem.count("BEGIN CERTIFICATE") == 2
    assert checked.key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")


def test_windows_line_endings_and_a_traditional_rsa_key_are_normalised(ca):
    leaf = ca.leaf(DOMAIN, key_kind="rsa")
    traditional = leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    chain = ca.chain_pem(leaf).replace("\n", "\r\n").encode()
    checked = certificate_check(certificate=chain, key=traditional, domain=DOMAIN)
    assert "\r" not in checked.chain_pem and "BEGIN PRIVATE KEY" in checked.key_pem


def test_a_key_that_does_not_match(ca):
    leaf, other = ca.leaf(DOMAIN), ca.leaf(DOMAIN)
    error = refused(certificate=ca.chain_pem(leaf), key=other.key_pem, domain=DOMAIN)
    assert error.field == "key" and "does not match" in error.message


def test_an_rsa_key_for_an_ec_certificate_does_not_match(ca):
    leaf = ca.leaf(DOMAIN, key_kind="ec")
    rsa_key = ca.leaf(DOMAIN, key_kind="rsa").key_pem
    error = refused(certificate=leaf.cert_pem, key=rsa_key, domain=DOMAIN)
    assert "does not match" in error.message


def test_the_leaf_must_come_first(ca):
    leaf = ca.leaf(DOMAIN)
    reversed_chain = cert_pem(ca.intermediate.cert) + leaf.cert_pem
    error = refused(certificate=reversed_chain, key=leaf.key_pem, domain=DOMAIN)
    assert "must come first" in error.message


def test_a_chain_out_of_order(ca):
    leaf = ca.leaf(DOMAIN)
    chain = leaf.cert_pem + cert_pem(ca.root.cert) + cert_pem(ca.intermediate.cert)
    error = refused(certificate=chain, key=leaf.key_pem, domain=DOMAIN)
    assert "out of order" in error.message and "Warren Test CA" in error.message


def test_a_chain_for_another_name(ca):
    leaf = ca.leaf("other.example.net")
    error = refused(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN)
    assert error.message == f"The certificate is for other.example.net, not {DOMAIN}."


def test_an_expired_certificate(ca):
    leaf = ca.leaf(DOMAIN, not_before_days=-100, days=90)
    error = refused(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN)
    assert "expired on" in error.message


def test_a_certificate_not_valid_yet(ca):
    leaf = ca.leaf(DOMAIN, not_before_days=2)
    assert (
        "not valid before"
        in refused(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN).message
    )


def test_a_self_signed_certificate(ca):
    issued = self_signed(DOMAIN)
    error = refused(certificate=issued.cert_pem, key=issued.key_pem, domain=DOMAIN)
    assert "self-signed" in error.message


def test_huge_binary_and_empty_uploads(ca):
    leaf = ca.leaf(DOMAIN)
    huge = ca.chain_pem(leaf) + "#" * MAX_PEM_BYTES
    assert "KiB" in refused(certificate=huge, key=leaf.key_pem, domain=DOMAIN).message
    der = leaf.cert.public_bytes(serialization.Encoding.DER)
    assert "binary" in refused(certificate=der, key=leaf.key_pem, domain=DOMAIN).message
    assert "empty" in refused(certificate=b"  \n", key=leaf.key_pem, domain=DOMAIN).message
    error = refused(certificate="hello", key=leaf.key_pem, domain=DOMAIN)
    assert "No certificate could be read" in error.message


def test_keys_that_cannot_be_used(ca):
    leaf = ca.leaf(DOMAIN)
    chain = ca.chain_pem(leaf)
    encrypted = leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    assert "passphrase" in refused(certificate=chain, key=encrypted, domain=DOMAIN).message
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    odd_curve = ec.generate_private_key(ec.SECP521R1())
    edwards = ed25519.Ed25519PrivateKey.generate()
    for key, message in (
        (key_pem(small), "1024 bits"),
        (key_pem(odd_curve), "secp521r1"),
        (key_pem(edwards), "Only RSA and EC"),
        ("-----BEGIN junk", "No private key"),
    ):
        assert message in refused(certificate=chain, key=key, domain=DOMAIN).message


@pytest.mark.parametrize(
    ("name", "domain", "covered"),
    [
        ("www.example.org", "www.example.org", True),
        ("WWW.Example.org", "www.example.org", True),
        ("*.example.org", "www.example.org", True),
        ("*.example.org", "example.org", False),
        ("*.example.org", "a.b.example.org", False),
        ("*.org", "example.org", False),
        ("www.example.org", "example.org", False),
    ],
)
def test_names_and_wildcards(name, domain, covered):
    assert name_covers(name, domain) is covered


def test_a_wildcard_certificate_covers_one_label(ca):
    leaf = ca.leaf("*.example.org")
    assert certificate_check(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN)
    error = refused(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain="a.www.example.org")
    assert "not a.www.example.org" in error.message


def test_dates_are_checked_against_now(ca):
    leaf = ca.leaf(DOMAIN, days=10)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=20)
    error = refused(certificate=ca.chain_pem(leaf), key=leaf.key_pem, domain=DOMAIN, now=later)
    assert "expired" in error.message
