"""The trader console, hosted: a private S3 bucket behind CloudFront (Origin Access Control), and its config.json.

The page is static (web/console, built into .build/console with the MQTT bundle by `make build`); what differs
per deployment is config.json, written at deploy time from the values this construct is given (API URLs,
Cognito ids) and one it looks up (the account's IoT data endpoint).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import CONSOLE_SITE_DIR, IOT_PRICE_TOPIC_PREFIX, PROJECT_ROOT
from stacks.constructs.rest_api import STAGE_NAME as API_STAGE
from stacks.nag import acknowledge

CONSOLE_CONFIG_FILE = "config.json"
CONSOLE_DEPLOYMENT_MEMORY_MB = 512  # the deployment Lambda unzips the site (about 0.4 MB) with the AWS CLI
CUSTOM_RESOURCE_MEMORY_MB = 256  # one DescribeEndpoint call
# The construct id CDK gives AwsCustomResource's singleton function (one per stack).
AWS_CUSTOM_RESOURCE_SINGLETON_ID = "AWS679f53fac002430cb0da5b7982bd2287"
FRAMEWORK_FUNCTION_FINDINGS = {
    "AwsSolutions-L1": "its runtime is pinned by aws-cdk-lib and moves with CDK upgrades",
    "Serverless-LambdaLatestVersion": "its runtime is pinned by aws-cdk-lib and moves with CDK upgrades",
    "Serverless-LambdaDLQ": "CloudFormation invokes it synchronously and fails the deployment on an error",
    "Serverless-LambdaTracing": "a one-off deploy-time call with nothing downstream to trace",
}
BUCKET_DEPLOYMENT_WILDCARDS = (
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    "AwsSolutions-IAM5[Action::s3:GetObject*]",
    "AwsSolutions-IAM5[Action::s3:List*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
    "AwsSolutions-IAM5[Action::s3:Abort*]",
    "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
    "AwsSolutions-IAM5[Resource::<<SITE_BUCKET>.Arn>/*]",
)


def content_security_policy(*, connect_sources: list[str]) -> str:
    """Scripts, styles and images from the site itself only; fetch and WebSocket only to ``connect_sources``."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {' '.join(connect_sources)}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class TraderConsole(Construct):
    """The console's site bucket, CloudFront distribution and deployment (page, MQTT bundle, config.json).

    Parameters are deploy-time values (tokens are fine): the trader API (one REST API serves commands and
    queries), the traders' user pool and its console client, and the identity pool that turns a sign-in into
    IoT credentials.

    The distribution serves the API too: ``/v1/*`` goes to API Gateway (stage ``v1``, nothing cached, every
    viewer header but Host forwarded, so the Cognito token reaches the authorizer). The page calls its APIs on
    its own origin: no CORS, and the API needs to know nothing of the console (no circular reference).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        api: apigateway.IRestApi,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient,
        identity_pool_id: str,
        site_dir: Path = CONSOLE_SITE_DIR,
    ) -> None:
        super().__init__(scope, id_)
        if not (site_dir / "index.html").is_file() or not (site_dir / "vendor" / "mqtt.min.js").is_file():
            raise FileNotFoundError(
                f"{site_dir.relative_to(PROJECT_ROOT) if site_dir.is_relative_to(PROJECT_ROOT) else site_dir} "
                "is missing or incomplete: run `make build` first (it builds the console site with its MQTT bundle)"
            )
        # S3 server access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL (CDK's
        # feature flag, set for this construct's scope only; CloudFront adds its own log-delivery grant).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        stack = Stack.of(self)
        region = stack.region
        removal_policy = RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront standard logging writes with an ACL: the bucket must accept object-writer ACLs.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.log_retention_days))],
            removal_policy=removal_policy,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access log bucket of the site bucket and the distribution; logging it would recurse",
        )
        self.bucket = s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="site-bucket/",
            removal_policy=removal_policy,
        )

        # The account's IoT data endpoint (xxxx-ats.iot.REGION.amazonaws.com), looked up at deploy time:
        # synth stays free of account lookups.
        self.iot_endpoint_lookup = cr.AwsCustomResource(
            self,
            "IotDataEndpoint",
            on_create=cr.AwsSdkCall(
                service="Iot",
                action="describeEndpoint",
                parameters={"endpointType": "iot:Data-ATS"},
                physical_resource_id=cr.PhysicalResourceId.of("iot-data-ats-endpoint"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,  # the runtime's SDK has DescribeEndpoint; no install at deploy time
            memory_size=CUSTOM_RESOURCE_MEMORY_MB,
            log_group=logs.LogGroup(
                self, "IotDataEndpointLogs", retention=config.retention, removal_policy=RemovalPolicy.DESTROY
            ),
        )
        iot_endpoint = self.iot_endpoint_lookup.get_response_field("endpointAddress")
        acknowledge(
            self.iot_endpoint_lookup,
            "AwsSolutions-IAM5[Resource::*]",
            "iot:DescribeEndpoint supports no resource-level permissions; it is the only action this role has",
        )

        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Trader console: CSP limited to the APIs, Cognito and IoT Core; no framing; HSTS",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(
                        connect_sources=[
                            f"https://cognito-idp.{region}.amazonaws.com",
                            f"https://cognito-identity.{region}.amazonaws.com",
                            f"wss://{iot_endpoint}",
                        ]
                    ),
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Trader console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            additional_behaviors={
                f"/{API_STAGE}/*": cloudfront.BehaviorOptions(
                    # The API's own domain, no origin path: /v1/fixtures reaches the stage v1 as /v1/fixtures.
                    origin=origins.HttpOrigin(
                        f"{api.rest_api_id}.execute-api.{region}.{stack.url_suffix}",
                        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.access_logs,
            log_file_prefix="distribution/",
        )
        for rule, reason in (
            (
                "AwsSolutions-CFR1",
                "Traders sign in with MFA from wherever they work; a country list would lock out travelling staff",
            ),
            (
                "AwsSolutions-CFR2",
                "A static page of public code: every request that matters goes to the Cognito-authorized APIs",
            ),
            (
                "AwsSolutions-CFR4",
                "The default *.cloudfront.net certificate (no custom domain yet); CloudFront then allows TLSv1",
            ),
        ):
            acknowledge(self.distribution, rule, reason)

        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3_deployment.Source.asset(str(site_dir)),
                s3_deployment.Source.json_data(
                    CONSOLE_CONFIG_FILE,
                    {
                        "stage": config.name,
                        "traderApiUrl": f"/{API_STAGE}",
                        "queryApiUrl": f"/{API_STAGE}",
                        "auth": {
                            "mode": "cognito",
                            "region": region,
                            "userPoolId": user_pool.user_pool_id,
                            "userPoolClientId": user_pool_client.user_pool_client_id,
                            "identityPoolId": identity_pool_id,
                        },
                        "realtime": {
                            "mode": "iot",
                            "region": region,
                            "endpoint": iot_endpoint,
                            "topicFilter": f"{IOT_PRICE_TOPIC_PREFIX}/+/prices",
                        },
                    },
                ),
            ],
            distribution=self.distribution,  # a new deployment invalidates the cached page and config
            distribution_paths=["/*"],
            memory_limit=CONSOLE_DEPLOYMENT_MEMORY_MB,
            prune=True,
            log_group=logs.LogGroup(
                self, "DeploymentLogs", retention=config.retention, removal_policy=RemovalPolicy.DESTROY
            ),
        )
        self._acknowledge_framework_functions(stack)

    def _acknowledge_framework_functions(self, stack: Stack) -> None:
        """CDK's own deploy-time Lambdas (the bucket deployment, the SDK call): not ours to build with the factory.

        They run only while CloudFormation deploys this stack, on CDK's runtime and code, with CDK's policies.
        """
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                function, purpose = child, "copies the console into its bucket at deploy time"
            elif child.node.id == AWS_CUSTOM_RESOURCE_SINGLETON_ID:
                function, purpose = child, "looks up the IoT data endpoint at deploy time"
            else:
                continue
            role = function.node.find_child("ServiceRole")
            acknowledge(
                role.node.find_child("Resource"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                f"CDK's deploy-time function that {purpose}: the basic policy only writes its own logs",
            )
            resource = function.node.find_child("Resource")
            for rule, reason in FRAMEWORK_FUNCTION_FINDINGS.items():
                acknowledge(resource, rule, f"CDK's deploy-time function that {purpose}: {reason}")
            policy = role.node.try_find_child("DefaultPolicy")
            if policy is not None and function.node.id != AWS_CUSTOM_RESOURCE_SINGLETON_ID:
                site_bucket = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
                for rule in BUCKET_DEPLOYMENT_WILDCARDS:
                    acknowledge(
                        policy.node.find_child("Resource"),
                        rule.replace("<SITE_BUCKET>", site_bucket),
                        "CDK's bucket deployment grants: read the staged asset, write and prune the site bucket, "
                        "invalidate the distribution (CloudFront invalidations have no resource-level permissions)",
                    )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}/"
