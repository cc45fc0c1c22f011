"""Browser access to the realtime price feed: sign in, then subscribe to the price topics and nothing else."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_cognito_identitypool as identitypool
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import IOT_PRICE_TOPIC_PREFIX
from stacks.nag import acknowledge

# IoT policy variable: each browser may connect only with its own Cognito identity id as client id.
COGNITO_IDENTITY_VARIABLE = "${cognito-identity.amazonaws.com:sub}"
# ... followed by "-" and a suffix of its own: one trader's tabs need distinct client ids, as IoT Core disconnects the
# older of two connections with one id. Identity ids are "region:uuid", all one length per region, so no identity id
# followed by "-" is the start of another's.
OWN_CLIENT_IDS = f"{COGNITO_IDENTITY_VARIABLE}-*"


def price_feed_statements(stack: Stack) -> list[iam.PolicyStatement]:
    """Connect as yourself, subscribe to and receive the price topics: no publish, no other topic."""

    def arn(resource: str, name: str) -> str:
        return stack.format_arn(service="iot", resource=resource, resource_name=name)

    return [
        iam.PolicyStatement(
            actions=["iot:Connect"],
            resources=[arn("client", OWN_CLIENT_IDS)],
        ),
        iam.PolicyStatement(
            actions=["iot:Subscribe"],
            resources=[arn("topicfilter", f"{IOT_PRICE_TOPIC_PREFIX}/*")],
        ),
        iam.PolicyStatement(
            actions=["iot:Receive"],
            resources=[arn("topic", f"{IOT_PRICE_TOPIC_PREFIX}/*")],
        ),
    ]


def grant_attach_price_feed_policy(grantee: iam.IGrantable) -> iam.Grant:
    """Allow ``grantee`` to call ``iot:AttachPolicy``, which IAM authorizes on ``*`` only, for a Cognito identity.

    IAM authorizes AttachPolicy against its target, not the policy: the action's resource types are ``cert`` and
    ``thinggroup`` (Service Authorization Reference, "Actions, resources, and condition keys for AWS IoT",
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html), and a Cognito identity id
    is neither, so a statement naming the policy's ARN (or any ARN) never matches and the call is denied. The
    action has no condition key of its own to narrow it to one policy or one identity. What narrows it instead:
    the grantee is a role of its own, used only by the realtime-session Lambda, which attaches the one read-only
    price-feed policy to the identity derived from the caller's own ID token (lambdas/handlers/
    start_realtime_session.py).
    """
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=["iot:AttachPolicy"], resource_arns=["*"])
    principal = grantee.grant_principal
    if isinstance(principal, iam.Role):
        acknowledge(
            principal,
            "AwsSolutions-IAM5[Resource::*]",
            "iot:AttachPolicy takes only '*' for a Cognito identity target (resource types cert and thinggroup, no "
            "condition keys); the role is the realtime-session Lambda's alone, and it attaches only the read-only "
            "price-feed policy to the caller's own identity; X-Ray tracing likewise supports no resource-level scoping",
        )
    return grant


class RealtimeAccess(Construct):
    """Traders' user pool, the identity pool that turns a sign-in into AWS credentials, and the IoT policy.

    IoT Core evaluates both the identity pool role's IAM policy and the IoT policy attached to the
    Cognito identity; both hold the same three statements.
    """

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig) -> None:
        super().__init__(scope, id_)
        self.user_pool = cognito.UserPool(
            self,
            "Traders",
            self_sign_up_enabled=False,  # traders are invited by an administrator
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
        )
        self.console_client = self.user_pool.add_client(
            "TraderConsole",
            # The console signs in with USER_PASSWORD_AUTH (the password goes to Cognito over TLS, then the MFA
            # code): SRP would need big-number maths in the page or a client library, for no gain over TLS here.
            auth_flows=cognito.AuthFlow(user_password=True),
            generate_secret=False,  # a browser cannot keep a secret
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),  # one trading day
        )
        self.identity_pool = identitypool.IdentityPool(
            self,
            "PriceFeedIdentities",
            allow_unauthenticated_identities=False,
            authentication_providers=identitypool.IdentityPoolAuthenticationProviders(
                user_pools=[
                    identitypool.UserPoolAuthenticationProvider(
                        user_pool=self.user_pool, user_pool_client=self.console_client
                    )
                ]
            ),
        )
        stack = Stack.of(self)
        for statement in price_feed_statements(stack):
            self.identity_pool.authenticated_role.add_to_principal_policy(statement)
        self.iot_policy = iot.CfnPolicy(
            self,
            "PriceFeedSubscriberPolicy",
            policy_document=iam.PolicyDocument(statements=price_feed_statements(stack)),
        )
        for resource in ("topicfilter", "topic"):
            acknowledge(
                self.identity_pool.authenticated_role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:{resource}/"
                f"{IOT_PRICE_TOPIC_PREFIX}/*]",
                "Subscribe and receive cover every fixture's price topic under the one prefix; fixture ids are data",
            )
        acknowledge(
            self.identity_pool.authenticated_role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:client/"
            "<cognito-identity.amazonaws.com:sub>-*]",
            "Connect only as the caller's own identity id plus a per-tab suffix: one trader's tabs need distinct ids",
        )
