"""rds_iam_lab: a local stand-in for AWS IAM database authentication (moto plus real PostgreSQL and MariaDB
servers that accept only valid IAM tokens), for the tests of dbauth.rds_iam and of the roles that reuse it.
The command is ``rds-iam-lab`` (:mod:`rds_iam_lab.cli`)."""

__version__ = "0.1.0"
