"""lab/auth_token.py: the one place the lab reads tokens; signatures recomputed by botocore's signer."""

from __future__ import annotations

import pathlib
import re

import botocore.session
import pytest

from rds_iam_lab import auth_token

LAB = pathlib.Path(__file__).resolve().parents[1]


def _token(session_token=None, host="db.example.com", port=5432, user="app_user"):
    client = botocore.session.Session().create_client(
        "rds", region_name="eu-west-1", aws_access_key_id="AKIDLABEXAMPLE",
        aws_secret_access_key="lab-secret-example", aws_session_token=session_token)
    return client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)


@pytest.mark.parametrize("session_token", [None, "FQoG" + "x" * 3000])
def test_signature_of_an_sdk_token_is_the_one_botocore_recomputes(session_token):
    parsed = auth_token.parse_token(_token(session_token))
    assert parsed.get("X-Amz-Security-Token") == session_token
    assert parsed.access_key_id == "AKIDLABEXAMPLE" and parsed.credential[2:4] == ["eu-west-1", "rds-db"]
    assert auth_token.expected_signature(parsed, "lab-secret-example") == parsed.get("X-Amz-Signature")
    assert auth_token.expected_signature(parsed, "another-secret") != parsed.get("X-Amz-Signature")


def test_the_token_own_date_and_expiry_are_signed():
    parsed = auth_token.parse_token(_token())
    genuine = parsed.get("X-Amz-Signature")
    for name, value in (("X-Amz-Expires", "899"), ("X-Amz-Date", "20200101T000000Z"), ("DBUser", "other")):
        tampered = auth_token.ParsedToken(parsed.host, parsed.port, parsed.netloc,
                                          [(k, value if k == name else v) for k, v in parsed.params])
        assert auth_token.expected_signature(tampered, "lab-secret-example") != genuine, name


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("https://h:1/?Action=connect", "scheme"), ("h/?Action=connect", "host:port"),
    ("h:1/?Action=connect&DBUser=a", "lacks X-Amz-Algorithm"),
])
def test_malformed(text, reason):
    with pytest.raises(auth_token.TokenFormatError) as err:
        auth_token.parse_token(text)
    assert reason in err.value.reason and err.value.code == "malformed"


def test_tokens_are_parsed_and_signed_in_one_place():
    """No other lab module splits tokens or computes HMACs of its own."""
    for path in LAB.glob("*.py"):
        if path.name == "auth_token.py":
            continue
        text = path.read_text()
        # (a SHA-256 of something else, such as the checkout path naming the state folder, is no signature)
        assert '"/?"' not in text and "hmac.new" not in text, path
        assert not re.search(r"X-Amz-Credential\"?\)?\s*or\s*\"\"\)\.split", text), path
