"""AWS credentials for the bridges: the default chain, or a narrowly scoped role assumed from it.

On-prem, the default chain usually yields IAM Roles Anywhere or a profile; with ``*_ROLE_ARN`` set, the
bridge assumes that role (FeedForwarderRole / OnPremPollerRole, outputs of the CDK app) and refreshes
the session before it expires.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.credentials import Credentials, RefreshableCredentials

SESSION_NAME_PREFIX = "onprem-"
SESSION_SECONDS = 3600  # the roles' max_session_duration


def credentials(*, region: str, role_arn: str | None, session_name: str) -> Credentials:
    """Credentials from the default chain, or refreshing credentials of ``role_arn`` assumed with them."""
    session = botocore.session.get_session()
    base = session.get_credentials()
    if base is None:
        raise RuntimeError(
            "no AWS credentials: set them the usual way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, a credentials file, or IAM Roles Anywhere's credential process)"
        )
    if role_arn is None:
        return base
    sts = session.create_client("sts", region_name=region)

    def assume() -> dict[str, Any]:
        response = sts.assume_role(
            RoleArn=role_arn, RoleSessionName=SESSION_NAME_PREFIX + session_name, DurationSeconds=SESSION_SECONDS
        )["Credentials"]
        return {
            "access_key": response["AccessKeyId"],
            "secret_key": response["SecretAccessKey"],
            "token": response["SessionToken"],
            "expiry_time": response["Expiration"].isoformat(),
        }

    return RefreshableCredentials.create_from_metadata(
        metadata=assume(), refresh_using=assume, method="sts-assume-role"
    )
