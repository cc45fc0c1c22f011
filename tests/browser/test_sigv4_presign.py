"""The console's SigV4 presigner (web/console/sigv4.js, WebCrypto) against botocore's SigV4QueryAuth.

The JavaScript runs in Node 22 (the pinned `node` package in node_modules/.bin), which has the same WebCrypto
API as the browser. Both sign the same request at the same instant with the same keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.browser.node import PROJECT_ROOT, run_node

SIGV4_MODULE = PROJECT_ROOT / "web" / "console" / "sigv4.js"
HOST = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"
SIGNED_AT = datetime(2026, 11, 22, 15, 17, 31, tzinfo=UTC)
ACCESS_KEY = "ASIAEXAMPLEEXAMPLE00"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+/="
# Session tokens are base64: '/', '+' and '=' must be percent-encoded in the URL.
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/abc+def=="


def presign_in_node(**inputs: object) -> str:
    script = (
        f"import {{ presignUrl }} from {json.dumps(SIGV4_MODULE.as_uri())};\n"
        "const inputs = JSON.parse(process.argv[1]);\n"
        "inputs.date = new Date(inputs.date);\n"
        "process.stdout.write(await presignUrl(inputs));\n"
    )
    return run_node(script, json.dumps(inputs))


def presign_with_botocore(monkeypatch: pytest.MonkeyPatch, *, token: str | None, expires: int) -> str:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: SIGNED_AT.replace(tzinfo=None))
    request = AWSRequest(method="GET", url=f"https://{HOST}/mqtt")
    SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY, token), "iotdevicegateway", "eu-west-1", expires).add_auth(
        request
    )
    return request.url


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def node_inputs(**changes: object) -> dict[str, object]:
    inputs: dict[str, object] = {
        "host": HOST,
        "region": "eu-west-1",
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": SECRET_KEY,
        "date": SIGNED_AT.isoformat(),
        "expiresSeconds": 300,
        "protocol": "https",
    }
    inputs.update(changes)
    return inputs


def test_the_presigned_url_equals_botocores_for_the_same_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same keys, instant, host and expiry
    # When both presign GET /mqtt for iotdevicegateway
    from_node = presign_in_node(**node_inputs())
    from_botocore = presign_with_botocore(monkeypatch, token=None, expires=300)

    # Then the URLs are identical, signature included
    assert from_node == from_botocore
    assert query(from_node)["X-Amz-Credential"] == f"{ACCESS_KEY}/20261122/eu-west-1/iotdevicegateway/aws4_request"


def test_a_signed_in_session_token_gives_botocores_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given temporary credentials, with the token signed in (botocore's way, as most services want it)
    from_node = presign_in_node(**node_inputs(sessionToken=SESSION_TOKEN, appendSessionTokenAfterSigning=False))
    from_botocore = presign_with_botocore(monkeypatch, token=SESSION_TOKEN, expires=300)

    # Then the same query, token included, and the same signature
    assert query(from_node) == query(from_botocore)


def test_for_iot_the_session_token_is_appended_after_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given temporary credentials from Cognito, presigned the way AWS IoT's WebSocket endpoint wants
    from_node = presign_in_node(**node_inputs(sessionToken=SESSION_TOKEN, protocol="wss"))
    unsigned_token = presign_with_botocore(monkeypatch, token=None, expires=300)

    # Then the signature is the one for the query WITHOUT the token, and the token follows it, encoded
    signed_part, token_part = from_node.split("&X-Amz-Security-Token=")
    assert signed_part == unsigned_token.replace("https://", "wss://", 1)
    assert token_part == "IQoJb3JpZ2luX2VjEXAMPLE%2Fabc%2Bdef%3D%3D"
    assert query(from_node)["X-Amz-Security-Token"] == SESSION_TOKEN
