"""Provisioning the synthesized stacks into moto, resource by resource, from their templates alone.

Nothing is kept by hand in parallel: a resource added to a stack appears here on the next synth. A type
this module cannot provision, and that is not listed as unneeded locally (with the reason), stops the
engine with an error naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_engine.cloud_assembly import CloudAssemblyError, Resolver, StackArtifact, resource_order


class UnsupportedResourceType(CloudAssemblyError):
    """A resource type the local engine cannot provision."""


# The engine runs the project's handlers (lambdas/handlers) from the checkout; no other code.
PROJECT_HANDLER_PACKAGE = "lambdas."

# Types that exist in the templates but have no local counterpart, and why that is safe.
NOT_NEEDED_LOCALLY: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK's version reporting; nothing runs on it",
    "AWS::IAM::Policy": "moto does not enforce IAM; the infrastructure tests check every policy",
    "AWS::SQS::QueuePolicy": "moto does not enforce resource policies; the infrastructure tests check them",
    "AWS::SNS::TopicPolicy": "moto does not enforce resource policies; the infrastructure tests check them",
    "AWS::Lambda::Permission": "moto does not enforce resource policies; the infrastructure tests check them",
    "AWS::Lambda::LayerVersion": "the layer's pinned dependencies are installed in the local virtual environment",
    "AWS::XRay::SamplingRule": "there is no X-Ray locally; the engine's trace command shows each execution",
    "AWS::CloudWatch::Alarm": "the engine produces no CloudWatch metrics to alarm on; its accounting reports DLQs",
    "AWS::CloudWatch::Dashboard": "no CloudWatch metrics locally; the dashboard's coverage is an infrastructure test",
    "AWS::Events::Rule": "schedules (the capacity planner) do not fire locally; its handler is tested on moto",
    "AWS::Logs::QueryDefinition": "a saved Logs Insights query; the engine's trace command shows each execution",
    "AWS::ApplicationAutoScaling::ScalableTarget": "capacity is unlimited locally",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "capacity is unlimited locally",
    "AWS::ApiGateway::Account": "account-level API Gateway logging",
    "AWS::ApiGateway::RestApi": "served by the local gateway (local_engine/gateway.py) from the template itself",
    "AWS::ApiGateway::Resource": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Method": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Model": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::RequestValidator": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::GatewayResponse": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Stage": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Authorizer": "the local gateway stands in for the Cognito authorizer (local sign-in tokens)",
    "AWS::Cognito::IdentityPoolRoleAttachment": "moto does not enforce IAM; the infrastructure tests check the roles",
    # The trader console's hosting: locally, local_engine/console_server.py serves the same page and bundle.
    "AWS::S3::Bucket": "the console's site and log buckets; locally the console server serves the page",
    "AWS::S3::BucketPolicy": "the console's hosting: see AWS::S3::Bucket",
    "AWS::CloudFront::Distribution": "the console's hosting: see AWS::S3::Bucket",
    "AWS::CloudFront::OriginAccessControl": "the console's hosting: see AWS::S3::Bucket",
    "AWS::CloudFront::ResponseHeadersPolicy": "the console's hosting: see AWS::S3::Bucket",
    "Custom::CDKBucketDeployment": "CDK's deploy-time copy of the console into its bucket; see AWS::S3::Bucket",
    "Custom::AWS": "the console's deploy-time IoT endpoint lookup; locally the console uses the local broker",
}


@dataclass(frozen=True)
class ProvisionedResource:
    stack: str
    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str]
    physical_name: str


@dataclass(frozen=True)
class LocalFunctionSpec:
    """What the engine needs to run a function's real handler: where it is and its environment."""

    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    memory_size: int
    timeout_seconds: int


@dataclass(frozen=True)
class AsyncInvokeConfig:
    maximum_retry_attempts: int
    on_failure_destination: str | None


@dataclass
class ProvisionedApp:
    """Everything provisioned, findable by logical id, construct path and type."""

    resources: list[ProvisionedResource] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (stack, logical id, type)
    functions: dict[str, LocalFunctionSpec] = field(default_factory=dict)  # by function name
    async_configs: dict[str, AsyncInvokeConfig] = field(default_factory=dict)  # by function name
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stack -> output -> value
    resolvers: dict[str, Resolver] = field(default_factory=dict)  # stack -> its intrinsics, as provisioned

    def of_type(self, resource_type: str) -> list[ProvisionedResource]:
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str, logical_id_part: str) -> ProvisionedResource:
        matches = [r for r in self.of_type(resource_type) if logical_id_part in r.logical_id]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} {resource_type} resources match {logical_id_part!r}")
        return matches[0]


@dataclass
class _Context:
    clients: Callable[[str], Any]
    region: str
    account: str
    app: ProvisionedApp


def function_name_of(name_or_arn: str) -> str:
    """``arn:aws:lambda:...:function:name[:qualifier]`` or ``name`` -> ``name``."""
    return name_or_arn.split(":function:")[-1].split(":")[0]


def physical_name(stack: str, logical_id: str, max_length: int) -> str:
    """A stable, unique, length-limited name, as CloudFormation would generate (without the random part)."""
    name = re.sub(r"[^A-Za-z0-9-]", "", f"{stack}-{logical_id}")
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9]}-{digest}"


def provision(
    stacks: list[StackArtifact], *, clients: Callable[[str], Any], region: str, account: str
) -> ProvisionedApp:
    """Create every resource of every stack in moto, in dependency order, resolving intrinsics as CloudFormation."""
    context = _Context(clients=clients, region=region, account=account, app=ProvisionedApp())
    exports: dict[str, str] = {}
    for stack in stacks:
        resolver = Resolver(stack_name=stack.name, region=region, account=account, exports=exports)
        resources = stack.template.get("Resources", {})
        for logical_id in resource_order(resources):
            resource = resources[logical_id]
            resource_type = resource["Type"]
            creator = _CREATORS.get(resource_type)
            if creator is None:
                if resource_type not in NOT_NEEDED_LOCALLY:
                    raise UnsupportedResourceType(
                        f"{stack.name}/{logical_id}: resource type {resource_type} cannot be provisioned locally; "
                        "add it to local_engine/provisioner.py (a creator, or NOT_NEEDED_LOCALLY with the reason)"
                    )
                context.app.skipped.append((stack.name, logical_id, resource_type))
                placeholder = f"local-unprovisioned:{resource_type}:{logical_id}"
                resolver.refs[logical_id] = placeholder
                resolver.attributes[logical_id] = _PlaceholderAttributes(placeholder)
                continue
            properties = resolver.resolve(resource.get("Properties", {}))
            provisioned = creator(context, stack.name, logical_id, properties)
            context.app.resources.append(provisioned)
            resolver.refs[logical_id] = provisioned.ref
            resolver.attributes[logical_id] = provisioned.attributes
        outputs = {}
        for output_name, output in stack.template.get("Outputs", {}).items():
            value = str(resolver.resolve(output["Value"]))
            outputs[output_name] = value
            if "Export" in output:
                exports[resolver.resolve(output["Export"]["Name"])] = value
        context.app.outputs[stack.name] = outputs
        context.app.resolvers[stack.name] = resolver
    return context.app


class _PlaceholderAttributes(dict):
    """Any attribute of a resource that is not provisioned locally resolves to a marker naming it."""

    def __init__(self, placeholder: str) -> None:
        super().__init__()
        self._placeholder = placeholder

    def __missing__(self, attribute: str) -> str:
        return f"{self._placeholder}.{attribute}"


def _kms_key(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    metadata = ctx.clients("kms").create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
    return ProvisionedResource(
        stack,
        logical_id,
        "AWS::KMS::Key",
        metadata["KeyId"],
        {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]},
        metadata["KeyId"],
    )


def _dynamodb_table(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("TableName") or physical_name(stack, logical_id, 255)
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if arguments["BillingMode"] == "PROVISIONED":
        arguments["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if optional in props:
            arguments[optional] = props[optional]
    client = ctx.clients("dynamodb")
    description = client.create_table(**arguments)["TableDescription"]
    if props.get("TimeToLiveSpecification", {}).get("Enabled"):
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return ProvisionedResource(
        stack,
        logical_id,
        "AWS::DynamoDB::Table",
        name,
        {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", "")},
        name,
    )


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _sqs_queue(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("QueueName") or physical_name(stack, logical_id, 80)
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    client = ctx.clients("sqs")
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return ProvisionedResource(
        stack, logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}, name
    )


def _sns_topic(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("TopicName") or physical_name(stack, logical_id, 256)
    arn = ctx.clients("sns").create_topic(Name=name)["TopicArn"]
    return ProvisionedResource(stack, logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name}, name)


def _sns_subscription(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    attributes = {}
    if props.get("RawMessageDelivery") in (True, "true"):
        attributes["RawMessageDelivery"] = "true"
    for key in ("FilterPolicy", "RedrivePolicy"):
        if key in props:
            attributes[key] = json.dumps(props[key])
    if "FilterPolicyScope" in props:
        attributes["FilterPolicyScope"] = props["FilterPolicyScope"]
    arn = ctx.clients("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return ProvisionedResource(stack, logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn}, arn)


def _iam_role(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("RoleName") or physical_name(stack, logical_id, 64)
    role = ctx.clients("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
    )["Role"]
    return ProvisionedResource(
        stack, logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}, name
    )


def _log_group(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("LogGroupName") or f"/local/{physical_name(stack, logical_id, 400)}"
    ctx.clients("logs").create_log_group(logGroupName=name)
    arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}:*"
    return ProvisionedResource(stack, logical_id, "AWS::Logs::LogGroup", name, {"Arn": arn}, name)


def _empty_zip() -> bytes:
    """moto needs a deployment package; the engine runs the handler from the checkout instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The local engine runs this function's handler from the project checkout.")
    return buffer.getvalue()


def _lambda_function(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("FunctionName") or physical_name(stack, logical_id, 64)
    environment = {key: str(value) for key, value in props.get("Environment", {}).get("Variables", {}).items()}
    created = ctx.clients("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "python3.12"),
        Role=props["Role"],
        Handler=props["Handler"],
        Code={"ZipFile": _empty_zip()},
        Timeout=int(props.get("Timeout", 3)),
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": environment},
    )
    if not str(props["Handler"]).startswith(PROJECT_HANDLER_PACKAGE):
        # CDK's own deploy-time functions (the console's bucket deployment, AwsCustomResource): their code is
        # aws-cdk-lib's, run by CloudFormation custom resources, which are not provisioned locally.
        return ProvisionedResource(
            stack, logical_id, "AWS::Lambda::Function", name, {"Arn": created["FunctionArn"]}, name
        )
    ctx.app.functions[name] = LocalFunctionSpec(
        name=name,
        arn=created["FunctionArn"],
        handler=props["Handler"],
        environment=environment,
        memory_size=int(props.get("MemorySize", 128)),
        timeout_seconds=int(props.get("Timeout", 3)),
    )
    return ProvisionedResource(stack, logical_id, "AWS::Lambda::Function", name, {"Arn": created["FunctionArn"]}, name)


def _lambda_version(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    published = ctx.clients("lambda").publish_version(FunctionName=props["FunctionName"])
    return ProvisionedResource(
        stack,
        logical_id,
        "AWS::Lambda::Version",
        published["FunctionArn"],
        {"Version": published["Version"], "FunctionArn": published["FunctionArn"]},
        published["FunctionArn"],
    )


def _lambda_alias(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    function_name = function_name_of(props["FunctionName"])
    alias = ctx.clients("lambda").create_alias(
        FunctionName=function_name, Name=props["Name"], FunctionVersion=str(props["FunctionVersion"])
    )
    return ProvisionedResource(
        stack, logical_id, "AWS::Lambda::Alias", alias["AliasArn"], {"AliasArn": alias["AliasArn"]}, alias["AliasArn"]
    )


def _lambda_event_invoke_config(
    ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]
) -> ProvisionedResource:
    function_name = function_name_of(props["FunctionName"])
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    ctx.app.async_configs[function_name] = AsyncInvokeConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)), on_failure_destination=on_failure
    )
    return ProvisionedResource(stack, logical_id, "AWS::Lambda::EventInvokeConfig", function_name, {}, function_name)


def _state_machine(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("StateMachineName") or physical_name(stack, logical_id, 80)
    definition = props["DefinitionString"]
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    leftover = re.findall(r"\$\{[A-Za-z0-9]+\}", definition)
    if leftover:
        raise CloudAssemblyError(f"{stack}/{logical_id}: placeholders without substitution: {sorted(set(leftover))}")
    arn = ctx.clients("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=props["RoleArn"], type=props.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    return ProvisionedResource(
        stack, logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name}, name
    )


def _iot_policy(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("PolicyName") or physical_name(stack, logical_id, 128)
    policy = ctx.clients("iot").create_policy(policyName=name, policyDocument=json.dumps(props["PolicyDocument"]))
    return ProvisionedResource(stack, logical_id, "AWS::IoT::Policy", name, {"Arn": policy["policyArn"]}, name)


def _cognito_user_pool(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    # Only the pool's identity: the local gateway's sign-in stands in for its sign-in (passwords, MFA).
    name = props.get("UserPoolName") or physical_name(stack, logical_id, 128)
    pool = ctx.clients("cognito-idp").create_user_pool(PoolName=name)["UserPool"]
    provider = f"cognito-idp.{ctx.region}.amazonaws.com/{pool['Id']}"
    attributes = {"Arn": pool["Arn"], "ProviderName": provider, "ProviderURL": f"https://{provider}"}
    return ProvisionedResource(stack, logical_id, "AWS::Cognito::UserPool", pool["Id"], attributes, name)


def _cognito_user_pool_client(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("ClientName") or physical_name(stack, logical_id, 128)
    client = ctx.clients("cognito-idp").create_user_pool_client(UserPoolId=props["UserPoolId"], ClientName=name)
    client_id = client["UserPoolClient"]["ClientId"]
    return ProvisionedResource(stack, logical_id, "AWS::Cognito::UserPoolClient", client_id, {}, name)


def _cognito_identity_pool(ctx: _Context, stack: str, logical_id: str, props: dict[str, Any]) -> ProvisionedResource:
    name = props.get("IdentityPoolName") or physical_name(stack, logical_id, 128).replace("-", "_")
    pool = ctx.clients("cognito-identity").create_identity_pool(
        IdentityPoolName=name,
        AllowUnauthenticatedIdentities=props.get("AllowUnauthenticatedIdentities", False),
        CognitoIdentityProviders=props.get("CognitoIdentityProviders", []),
    )
    pool_id = pool["IdentityPoolId"]
    return ProvisionedResource(stack, logical_id, "AWS::Cognito::IdentityPool", pool_id, {"Name": name}, name)


_CREATORS: dict[str, Callable[[_Context, str, str, dict[str, Any]], ProvisionedResource]] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::SNS::Topic": _sns_topic,
    "AWS::SNS::Subscription": _sns_subscription,
    "AWS::IAM::Role": _iam_role,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::Lambda::Version": _lambda_version,
    "AWS::Lambda::Alias": _lambda_alias,
    "AWS::Lambda::EventInvokeConfig": _lambda_event_invoke_config,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::IoT::Policy": _iot_policy,
    "AWS::Cognito::UserPool": _cognito_user_pool,
    "AWS::Cognito::UserPoolClient": _cognito_user_pool_client,
    "AWS::Cognito::IdentityPool": _cognito_identity_pool,
}
