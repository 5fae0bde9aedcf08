"""Lab certificate authority and server certificates (loopback only).

The CA and one server certificate (SAN IP:127.0.0.1, DNS:localhost) live in
``STATE/tls``. Clients verify the servers with ``verify-full`` against
``STATE/tls/ca.pem``. Keys are written 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def ensure_certs(tls_dir: Path) -> dict:
    """Create the lab CA and the server certificate once; return their paths."""
    tls_dir = Path(tls_dir)
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o755)
    paths = {
        "ca_cert": tls_dir / CA_CERT,
        "ca_key": tls_dir / CA_KEY,
        "server_cert": tls_dir / SERVER_CERT,
        "server_key": tls_dir / SERVER_KEY,
    }
    if all(p.exists() for p in paths.values()):
        return {k: str(v) for k, v in paths.items()}

    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(days=1)

    ca_key = _key()
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dbauth.rds_iam lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, "dbauth.rds_iam lab CA"),
    ])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key, server_cert = _leaf(ca_key, ca_name, "localhost",
                                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])

    _write(paths["ca_key"], _pem_key(ca_key), 0o600)
    _write(paths["server_key"], _pem_key(server_key), 0o600)
    _write(paths["ca_cert"], ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths["server_cert"], server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return {k: str(v) for k, v in paths.items()}


def _leaf(ca_key, ca_name: x509.Name, common_name: str, names: list) -> tuple:
    """A server key and certificate signed by the lab CA for the subject alternative ``names``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dbauth.rds_iam lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def ensure_endpoint_cert(tls_dir: Path, name: str, address: str) -> dict:
    """A certificate of the lab CA for one more endpoint (an RDS Proxy's address), kept in
    ``STATE/tls/NAME.pem`` / ``NAME.key`` (0600) and reused while its address is the same."""
    tls_dir = Path(tls_dir)
    cert_path, key_path = tls_dir / f"{name}.pem", tls_dir / f"{name}.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if ipaddress.ip_address(address) in sans.get_values_for_type(x509.IPAddress):
            return {"cert": str(cert_path), "key": str(key_path)}
    ca_key = serialization.load_pem_private_key((tls_dir / CA_KEY).read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((tls_dir / CA_CERT).read_bytes())
    key, cert = _leaf(ca_key, ca_cert.subject, address, [x509.IPAddress(ipaddress.ip_address(address))])
    _write(key_path, _pem_key(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return {"cert": str(cert_path), "key": str(key_path)}
