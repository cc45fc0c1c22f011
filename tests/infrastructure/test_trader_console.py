"""The trader console's hosting: private bucket, CloudFront with Origin Access Control, headers, config.json."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.synth import SynthesizedApp


def _console(app: SynthesizedApp) -> dict[str, Any]:
    return app.template("-Console")["Resources"]


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {rid: r for rid, r in resources.items() if r["Type"] == resource_type}


def test_the_site_bucket_is_private_encrypted_and_logged(dev_app: SynthesizedApp) -> None:
    # Given the console stack's buckets
    resources = _console(dev_app)
    buckets = _of_type(resources, "AWS::S3::Bucket")
    (site_id,) = [rid for rid in buckets if rid.startswith("TraderConsoleSite")]
    site = buckets[site_id]["Properties"]

    # Then the site bucket blocks all public access, is encrypted, logs access and accepts only TLS
    assert site["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert site["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert "LoggingConfiguration" in site
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(resources, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": site_id}
    ]
    (statements,) = policies
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    # ...and the only reader is CloudFront, for this distribution
    readers = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    assert "AWS:SourceArn" in json.dumps(readers[0]["Condition"])


def test_cloudfront_serves_it_over_https_with_origin_access_control_and_security_headers(
    dev_app: SynthesizedApp,
) -> None:
    # Given the distribution and its response headers policy
    resources = _console(dev_app)
    (distribution,) = _of_type(resources, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (headers,) = _of_type(resources, "AWS::CloudFront::ResponseHeadersPolicy").values()
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    # Then the page is the default object, viewers are sent to HTTPS, S3 is reached through OAC only
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    site_origin, api_origin = sorted(config["Origins"], key=lambda o: "S3OriginConfig" not in o)
    assert "OriginAccessControlId" in site_origin
    assert site_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    # ...and /v1/* goes to the trader API on the same origin: HTTPS, nothing cached, the token forwarded
    (api_behaviour,) = config["CacheBehaviors"]
    assert api_behaviour["PathPattern"] == "/v1/*" and api_behaviour["TargetOriginId"] == api_origin["Id"]
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "TraderApi" in json.dumps(api_origin["DomainName"])
    assert api_behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert api_behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHost
    assert "Logging" in config
    # ...and the CSP lets the page talk to its own origin, Cognito and IoT Core's WebSocket, and nothing else
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    for source in ("https://cognito-idp.", "https://cognito-identity.", "wss://"):
        assert source in csp
    assert "connect-src 'self' https://cognito-idp." in csp and "execute-api" not in csp
    assert "endpointAddress" in csp  # the IoT endpoint comes from the DescribeEndpoint lookup
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000


def test_the_deployment_writes_a_cognito_and_iot_config_json_from_deploy_time_values(dev_app: SynthesizedApp) -> None:
    # Given the bucket deployment and the config.json asset it carries
    resources = _console(dev_app)
    (deployment,) = _of_type(resources, "Custom::CDKBucketDeployment").values()
    site_key, config_key = deployment["Properties"]["SourceObjectKeys"]
    config_text = (dev_app.outdir / f"asset.{config_key.removesuffix('.zip')}" / "config.json").read_text()
    site_files = {path.name for path in (dev_app.outdir / f"asset.{site_key.removesuffix('.zip')}").iterdir()}
    markers = json.dumps(deployment["Properties"]["SourceMarkers"][1])

    # Then config.json says cognito sign-in and IoT realtime, with every id filled in at deploy time
    # (deploy-time values are markers the deployment Lambda replaces with JSON strings)
    config = json.loads(re.sub(r"<<(marker:0xbaba:\d+)>>", r'"\1"', config_text))
    assert config["auth"]["mode"] == "cognito" and config["realtime"]["mode"] == "iot"
    assert config["realtime"]["topicFilter"] == "trading/v1/fixtures/+/prices"
    for field in ("userPoolId", "userPoolClientId", "identityPoolId", "region"):
        assert config["auth"][field].startswith("marker:")
    for imported in (
        "RealtimeAccessTraders",
        "RealtimeAccessTradersTraderConsole",
        "RealtimeAccessPriceFeedIdentities",
    ):
        assert imported in markers
    assert "endpointAddress" in markers
    # ...and a new deployment invalidates what CloudFront cached
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]
    # ...beside the page and its MQTT bundle
    assert {"index.html", "app.js", "sigv4.js", "style.css", "vendor"} <= site_files
