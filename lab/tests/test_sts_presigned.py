"""The lab's STS answers presigned ``GET /?Action=GetCallerIdentity`` as STS does.

STS API Reference, "GetCallerIdentity": the answer is the caller's ARN (an assumed-role
session ARN for role credentials), and "No permissions are required to perform this
operation". IAM User Guide, "Authenticating Requests: Using Query Parameters (AWS
Signature Version 4)": the signature covers the query and the signed headers
(``X-Amz-SignedHeaders``), and the request is valid from ``X-Amz-Date`` for
``X-Amz-Expires`` seconds. STS API Reference, "Common Errors": SignatureDoesNotMatch
(403), InvalidClientTokenId (403), ExpiredToken (403), RequestExpired (400).

This is the request the collection's bridge forwards for a ``kind: sts`` login: signed
with the header ``X-DbAuth-Server-Id`` and sent with the bridge's own server id. The
requests here are signed with botocore's own signer, not with the collection's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.error
import urllib.request

import botocore.auth
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

STS_HOST = "sts.us-east-1.amazonaws.com"
HEADER = "X-DbAuth-Server-Id"


def presign(cp, creds, server_id: str | None = "orders-db-1", expires: int = 900,
            signed_at: dt.datetime | None = None, monkeypatch=None) -> str:
    """A presigned GetCallerIdentity query for STS's host name (with the server id header signed)."""
    if signed_at is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at.replace(tzinfo=None))
    headers = {HEADER: server_id} if server_id is not None else {}
    request = AWSRequest(method="GET", url=f"http://{STS_HOST}/", headers=headers,
                         params={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    SigV4QueryAuth(Credentials(creds.access_key, creds.secret_key, creds.session_token), "sts", cp.region,
                   expires=expires).add_auth(request)
    return request.prepare().url.split("?", 1)[1]


def send(cp, query: str, server_id: str | None = "orders-db-1") -> tuple[int, bytes]:
    headers = {"Host": STS_HOST}
    if server_id is not None:
        headers[HEADER] = server_id
    request = urllib.request.Request(f"{cp.endpoint_url}/?{query}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (the lab's loopback endpoint)
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def user(lab_iam):
    return lab_iam.user()  # no policy at all: GetCallerIdentity needs none


def test_user_key_answers_the_user_arn(lab_control_plane, user):
    status, body = send(lab_control_plane, presign(lab_control_plane, user))
    assert status == 200
    assert f"<Arn>{user.arn}</Arn>".encode() in body


def test_role_session_answers_the_assumed_role_arn(lab_control_plane, lab_iam):
    role_arn = lab_iam.role()
    session = lab_iam.assume(role_arn)
    status, body = send(lab_control_plane, presign(lab_control_plane, session))
    assert status == 200
    role_name = role_arn.rsplit("/", 1)[1]
    assert f":assumed-role/{role_name}/".encode() in body and b"arn:aws:sts::" in body
    assert session.arn.encode() in body


def test_other_server_id_is_signature_does_not_match(lab_control_plane, user):
    status, body = send(lab_control_plane, presign(lab_control_plane, user), server_id="other-db")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_signed_header_absent_is_signature_does_not_match(lab_control_plane, user):
    status, body = send(lab_control_plane, presign(lab_control_plane, user), server_id=None)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert b"x-dbauth-server-id not sent" in body


def test_unsigned_header_is_not_needed(lab_control_plane, user):
    status, body = send(lab_control_plane, presign(lab_control_plane, user, server_id=None), server_id=None)
    assert status == 200 and user.arn.encode() in body


@pytest.mark.parametrize("tamper", [
    lambda q: q.replace("X-Amz-Expires=900", "X-Amz-Expires=899"),
    lambda q: q.replace("Version=2011-06-15", "Version=2011-06-16"),
    lambda q: q[:-1] + ("0" if q[-1] != "0" else "1"),
])
def test_tampered_query_is_signature_does_not_match(lab_control_plane, user, tamper):
    status, body = send(lab_control_plane, tamper(presign(lab_control_plane, user)))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_expired_presigned_request_is_refused(lab_control_plane, user, monkeypatch):
    signed_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=901)
    query = presign(lab_control_plane, user, signed_at=signed_at, monkeypatch=monkeypatch)
    status, body = send(lab_control_plane, query)
    assert status == 400 and b"<Code>RequestExpired</Code>" in body


def test_unknown_key_is_invalid_client_token_id(lab_control_plane, user):
    stranger = dataclasses.replace(user, access_key="AKIAUNKNOWNLABKEY001")
    status, body = send(lab_control_plane, presign(lab_control_plane, stranger))
    assert status == 403 and b"<Code>InvalidClientTokenId</Code>" in body


def test_deleted_key_is_refused(lab_control_plane, lab_iam, user):
    name = user.arn.rsplit("/", 1)[1]
    query = presign(lab_control_plane, user)
    lab_iam.iam.delete_access_key(UserName=name, AccessKeyId=user.access_key)
    status, body = send(lab_control_plane, query)
    assert status == 403 and b"<Code>InvalidClientTokenId</Code>" in body
