"""The lab's target hosts: an EC2 instance metadata endpoint (IMDSv2) per host, and SSH accounts (root only).

Uses a lab of its own (the module-scoped ``lab`` fixture of test_logins, ``LAB_TEST_MODE=1``) and the ``iam``
fixture there (IAM auth on, lab-app-role may connect as app_user, the database users exist).

* IMDS, as the Amazon EC2 User Guide describes it: a GET without a token is 401, a token comes from
  ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` (echoed; missing or out of 1..21600:
  400; with X-Forwarded-For: 403), tokens expire and belong to one host; the credentials of the instance
  profile's role are a moto session named after the instance, accepted by the verifier, rotated before they
  expire; an instance without a profile role answers 404; botocore finds them through
  AWS_EC2_METADATA_SERVICE_ENDPOINT.
* SSH (root): each host is its own account on the lab's sshd (127.0.0.1 only), key login works, password and
  root logins do not, and the account reaches its own metadata endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import botocore.session
import pytest

from lab.tests import test_logins
from lab.tests.test_logins import APP_USER, login, make_token
from rds_iam_lab import hosts as lab_hosts

lab = test_logins.lab  # a lab of this module's own
iam = test_logins.iam

HOSTS = ["app-1", "app-2", "report-1", "noaccess-1"]
ROLES = {"app-1": "lab-app-role", "app-2": "lab-app-role", "report-1": "lab-report-role",
         "noaccess-1": "lab-noaccess-role"}
SSH = os.geteuid() == 0 and os.environ.get("LAB_HOSTS", "").lower() != "local"


def host(lab, name: str) -> dict:
    return next(h for h in lab.status["hosts"] if h["name"] == name)


def request(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "PUT" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def imds_token(endpoint: str, ttl: int = 60) -> str:
    status, headers, body = request(endpoint + "latest/api/token", "PUT",
                                    {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    assert status == 200 and headers.get("X-aws-ec2-metadata-token-ttl-seconds") == str(ttl)
    return body


def imds_credentials(endpoint: str, role: str) -> dict:
    token = imds_token(endpoint)
    status, _headers, body = request(endpoint + f"latest/meta-data/iam/security-credentials/{role}",
                                     headers={"X-aws-ec2-metadata-token": token})
    assert status == 200
    return json.loads(body)


def test_status_lists_the_hosts(lab):
    assert [h["name"] for h in lab.status["hosts"]] == HOSTS
    for name in HOSTS:
        entry = host(lab, name)
        assert entry["instance_id"].startswith("i-") and entry["role"] == ROLES[name]
        assert entry["imds_endpoint"].startswith("http://127.0.0.1:")
        assert entry["connection"] == ("ssh" if SSH else "local")
    assert len({h["imds_endpoint"] for h in lab.status["hosts"]}) == 4  # one endpoint per host


def test_imds_needs_a_session_token(lab):
    endpoint = host(lab, "app-1")["imds_endpoint"]
    creds_path = endpoint + "latest/meta-data/iam/security-credentials/"
    assert request(creds_path)[0] == 401  # IMDSv1 (no token): refused, as with HttpTokens=required
    assert request(creds_path, headers={"X-aws-ec2-metadata-token": "not-a-token"})[0] == 401
    token_url = endpoint + "latest/api/token"
    assert request(token_url, "PUT")[0] == 400  # the TTL header is required
    for ttl in ("0", "21601", "abc"):
        assert request(token_url, "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0] == 400
    assert request(token_url, "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                      "X-Forwarded-For": "203.0.113.9"})[0] == 403
    assert request(token_url, "GET")[0] == 401
    token = imds_token(endpoint, 21600)
    status, _h, body = request(creds_path, headers={"X-aws-ec2-metadata-token": token})
    assert (status, body) == (200, "lab-app-role")
    status, _h, body = request(endpoint + "latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token})
    assert (status, body) == (200, host(lab, "app-1")["instance_id"])
    # a token is this instance's only
    other = host(lab, "report-1")["imds_endpoint"]
    assert request(other + "latest/meta-data/iam/security-credentials/",
                   headers={"X-aws-ec2-metadata-token": token})[0] == 401
    # and it expires with its TTL
    short = imds_token(endpoint, 1)
    time.sleep(1.2)
    assert request(creds_path, headers={"X-aws-ec2-metadata-token": short})[0] == 401


def test_credentials_are_the_profile_roles_session_and_the_verifier_accepts_them(lab, iam):
    entry = host(lab, "app-1")
    creds = imds_credentials(entry["imds_endpoint"], "lab-app-role")
    assert (creds["Code"], creds["Type"]) == ("Success", "AWS-HMAC")
    expiration = dt.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert 900 < (expiration - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 3600
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["Token"]}
    ident = lab.aws("sts", **keys).get_caller_identity()
    assert ident["Arn"].endswith(f":assumed-role/lab-app-role/{entry['instance_id']}")
    # another role than the profile's: 404
    status, _h, _b = request(entry["imds_endpoint"] + "latest/meta-data/iam/security-credentials/lab-report-role",
                             headers={"X-aws-ec2-metadata-token": imds_token(entry["imds_endpoint"])})
    assert status == 404
    for db_id in test_logins.DB_IDS:
        db = lab.db(db_id)
        token = make_token(keys, "127.0.0.1", db["port"], APP_USER, lab.status["region"])
        assert login(lab, db_id, APP_USER, token) == (APP_USER, True)


def test_botocore_reads_the_endpoint_from_the_environment(lab, monkeypatch):
    entry = host(lab, "report-1")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    missing = str(lab.base / "no-such-aws-file")
    monkeypatch.setenv("AWS_CONFIG_FILE", missing)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", entry["imds_endpoint"])
    session = botocore.session.Session()
    creds = session.get_credentials()
    assert creds is not None and creds.method == "iam-role"
    sts = session.create_client("sts", region_name=lab.status["region"], endpoint_url=lab.status["endpoint_url"])
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/lab-report-role/{entry['instance_id']}")


def test_credentials_rotate_before_they_expire(lab, iam):
    entry = host(lab, "app-2")
    first = imds_credentials(entry["imds_endpoint"], "lab-app-role")
    assert imds_credentials(entry["imds_endpoint"], "lab-app-role")["AccessKeyId"] == first["AccessKeyId"]
    lab.control({"cmd": "set_clock_offset", "seconds": 3600 - 600})  # 10 minutes left: less than the margin
    try:
        second = imds_credentials(entry["imds_endpoint"], "lab-app-role")
    finally:
        lab.control({"cmd": "set_clock_offset", "seconds": 0})
    assert second["AccessKeyId"] != first["AccessKeyId"] and second["Expiration"] >= first["Expiration"]
    assert imds_credentials(entry["imds_endpoint"], "lab-app-role")["AccessKeyId"] == second["AccessKeyId"]
    keys = {"aws_access_key_id": second["AccessKeyId"], "aws_secret_access_key": second["SecretAccessKey"],
            "aws_session_token": second["Token"]}
    db = lab.db("lab-postgres")
    token = make_token(keys, "127.0.0.1", db["port"], APP_USER, lab.status["region"])
    assert login(lab, "lab-postgres", APP_USER, token) == (APP_USER, True)


def test_no_profile_role_gives_404(lab):
    entry = host(lab, "noaccess-1")
    iam_client = lab.aws("iam")
    iam_client.remove_role_from_instance_profile(InstanceProfileName="lab-noaccess-role", RoleName="lab-noaccess-role")
    try:
        token = imds_token(entry["imds_endpoint"])
        for path in ("iam/security-credentials/", "iam/security-credentials/lab-noaccess-role"):
            status, _h, _b = request(entry["imds_endpoint"] + "latest/meta-data/" + path,
                                     headers={"X-aws-ec2-metadata-token": token})
            assert status == 404, path
    finally:
        iam_client.add_role_to_instance_profile(InstanceProfileName="lab-noaccess-role", RoleName="lab-noaccess-role")
    assert imds_credentials(entry["imds_endpoint"], "lab-noaccess-role")["Code"] == "Success"


def test_nothing_secret_in_the_daemon_log(lab):
    creds = imds_credentials(host(lab, "app-1")["imds_endpoint"], "lab-app-role")
    text = (lab.state / "daemon.log").read_text(errors="replace")
    assert creds["SecretAccessKey"] not in text and creds["Token"] not in text


# -- SSH ------------------------------------------------------------------------------
def ssh(entry: dict, *command: str, user: str | None = None, extra: tuple = ()) -> subprocess.CompletedProcess:
    argv = ["ssh", "-p", str(entry["ssh_port"]), "-i", entry["ssh_private_key"], "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={entry['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", *extra, f"{user or entry['user']}@127.0.0.1", *command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


needs_ssh = pytest.mark.skipif(not SSH, reason="SSH hosts need root (the lab falls back to local hosts)")


@needs_ssh
@pytest.mark.parametrize("name", HOSTS)
def test_each_host_is_its_own_account(lab, name):
    entry = host(lab, name)
    assert entry["user"] == "rdsiamlab-" + name
    proc = ssh(entry, "id", "-un")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == entry["user"]
    assert ssh(entry, "id", "-u").stdout.strip() != "0"
    # the client files of this lab have a folder of their own in the shared account's home
    files = Path(entry["files_dir"])
    assert files.parent == Path(entry["home"]) and files.name == lab_hosts.files_dir_name(Path(lab.status["state_dir"]))


def test_labs_sharing_the_accounts_keep_their_client_files_apart(tmp_path):
    names = {lab_hosts.files_dir_name(tmp_path / s) for s in ("one", "two")}
    assert len(names) == 2 and all(n.startswith("rds-iam-") for n in names)
    assert lab_hosts.files_dir_name(tmp_path / "one") == lab_hosts.files_dir_name(tmp_path / "one")


@needs_ssh
def test_no_password_no_root_no_other_address(lab):
    entry = host(lab, "app-1")
    proc = ssh(entry, "true", extra=("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"))
    assert proc.returncode == 255 and "Permission denied (publickey)" in proc.stderr
    assert ssh(entry, "true", user="root").returncode == 255
    conf = lab.state / "ssh" / "sshd_config"
    effective = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(conf)], capture_output=True, text=True,
                               check=True).stdout.lower().splitlines()
    for line in ("passwordauthentication no", "kbdinteractiveauthentication no", "permitrootlogin no",
                 f"listenaddress 127.0.0.1:{entry['ssh_port']}", "pubkeyauthentication yes"):
        assert line in effective, line


@needs_ssh
def test_the_account_reaches_its_own_metadata_endpoint(lab):
    entry = host(lab, "report-1")
    script = (
        "import urllib.request as u, sys; e = sys.argv[1]; "
        "t = u.urlopen(u.Request(e + 'latest/api/token', method='PUT', data=b'', "
        "headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'})).read().decode(); "
        "print(u.urlopen(u.Request(e + 'latest/meta-data/iam/security-credentials/', "
        "headers={'X-aws-ec2-metadata-token': t})).read().decode())")
    proc = ssh(entry, "/usr/bin/python3", "-c", f'"{script}"', entry["imds_endpoint"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "lab-report-role"


def test_without_root_the_hosts_are_local(tmp_path, monkeypatch):
    """LAB_HOSTS=local (or not root): no accounts, no sshd; each host keeps a folder and a metadata port."""
    monkeypatch.setenv("LAB_HOSTS", "local")
    assert lab_hosts.want_ssh() == (False, "LAB_HOSTS=local")
    cfg = {"moto_port": 1, "ldap_port": 2, "databases": [{"port": 3}]}
    assert lab_hosts.ensure_ports(cfg) and not lab_hosts.ensure_ports(cfg)  # chosen once, then kept
    ports = [cfg["ssh_port"]] + [cfg["hosts"][h]["imds_port"] for h in HOSTS]
    assert len(set(ports)) == 5 and not set(ports) & {1, 2, 3}
    info = lab_hosts.up(tmp_path, cfg)
    assert info["mode"] == "local" and not (tmp_path / "ssh").exists()
    for name in HOSTS:
        entry = info["hosts"][name]
        assert entry["user"] is None and entry["files_dir"] == str(tmp_path / "hosts" / name)
        assert (entry["principal"], entry["imds_port"]) == (ROLES[name], cfg["hosts"][name]["imds_port"])
    assert json.loads((tmp_path / "hosts.json").read_text()) == info
