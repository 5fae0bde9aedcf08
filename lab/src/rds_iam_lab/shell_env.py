"""``rds-iam-lab env``: shell exports that point AWS tools at the lab (``eval "$(rds-iam-lab env)"``).

The AWS CLI, boto3 and the collection's modules read the endpoint, region, config files and profile from the
environment (AWS SDKs and Tools reference guide, "Environment variables"). The lab's admin profile is the
default; ``AWS_PROFILE=NAME`` picks another of the listed profiles (one per seeded role, each assuming its
role with its own source user's keys). Keys are in the credentials file (0600), never in the output.
"""

from __future__ import annotations

import shlex


def exports(status: dict, state_dir: str) -> str:
    """The ``export`` lines for a POSIX shell, values quoted."""
    profiles = [status["admin_profile"]] + [p["name"] for p in status["principals"]]
    values = [
        # later rds-iam-lab commands of this shell find the same lab
        ("LAB_STATE_DIR", state_dir),
        ("AWS_ENDPOINT_URL", status["endpoint_url"]),
        ("AWS_REGION", status["region"]),
        ("AWS_DEFAULT_REGION", status["region"]),
        ("AWS_CONFIG_FILE", status["aws_config_file"]),
        ("AWS_SHARED_CREDENTIALS_FILE", status["aws_shared_credentials_file"]),
        ("AWS_PROFILE", status["admin_profile"]),
        # the CA of the lab's database servers (ssl_mode verify-full, the collection's ca_cert options)
        ("RDS_IAM_LAB_CA_CERT", status["ca_cert"]),
        ("RDS_IAM_LAB_PROFILES", " ".join(profiles)),
    ]
    return "".join(f"export {name}={shlex.quote(str(value))}\n" for name, value in values)
