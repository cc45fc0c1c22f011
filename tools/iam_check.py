"""`make iam-check`: every grant of every role in the synthesized app, and where it is used.

Usage: ``python -m tools.iam_check [CDK_OUT]`` prints one line per grant, ``role -> action -> resource -> where``,
and exits 1 when a **state machine role** holds a grant that no state of its definition uses (nor the service's
own logging, tracing or KMS use for an encrypted resource the role is granted).

Usage is determined from the templates alone, so only where it can be determined reliably:

- a state machine role: each Task state's integration (``arn:aws:states:::dynamodb:updateItem`` ->
  ``dynamodb:UpdateItem``, ``lambda:invoke`` -> ``lambda:InvokeFunction``, ``aws-sdk:SERVICE:OPERATION``) on the
  resource its parameters name through the definition's substitutions; logs delivery and X-Ray actions when
  logging and tracing are configured; KMS on the key of an encrypted resource it is granted. **Fails** when unused.
- a Lambda role: its log group (the Lambda service logs), X-Ray (active tracing), its on-failure destination
  and KMS as above; any other grant is attributed to the function's handler, ``unverified``: which calls a
  handler makes is not decidable from its source reliably, so a handler grant never fails here. The local
  engine's IAM enforcement (local_engine/iam_enforcement.py) and tests/e2e/test_iam_least_privilege.py prove
  the handler grants the e2e paths need, by removing them.
- any other role (API integrations, the forwarder, Cognito identities, CDK's deploy-time functions): who
  assumes it, ``not checked``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_engine.cloud_assembly import StackArtifact, read_stacks

Ref = tuple[str, str]  # (stack, logical id)
# What Step Functions' logging to CloudWatch Logs needs (Step Functions developer guide, "IAM policies for
# logging to CloudWatch Logs"): the service calls them, no state does.
_LOG_DELIVERY_ACTIONS = frozenset(
    f"logs:{action}"
    for action in (
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DescribeLogGroups",
    )
)


@dataclass(frozen=True)
class Grant:
    role: str
    action: str
    resource: str
    where: str
    unused: bool = False


class App:
    """The stacks, with references followed across stacks (Fn::ImportValue to the exporting resource)."""

    def __init__(self, stacks: list[StackArtifact]) -> None:
        self.stacks = {stack.name: stack for stack in stacks}
        self.exports: dict[str, tuple[str, Any]] = {}
        for stack in stacks:
            for output in stack.template.get("Outputs", {}).values():
                if "Export" in output:
                    self.exports[self._export_name(stack.name, output["Export"]["Name"])] = (
                        stack.name,
                        output["Value"],
                    )

    @staticmethod
    def _export_name(stack: str, name: Any) -> str:
        if isinstance(name, dict) and "Fn::Join" in name:
            return "".join(stack if part == {"Ref": "AWS::StackName"} else str(part) for part in name["Fn::Join"][1])
        return str(name)

    def resources(self, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (stack.name, logical_id, resource)
            for stack in self.stacks.values()
            for logical_id, resource in stack.template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        ]

    def refs(self, stack: str, value: Any) -> set[Ref]:
        """The resources a value refers to (Ref, GetAtt, Sub, ImportValue followed to its exporter)."""
        found: set[Ref] = set()
        if isinstance(value, dict):
            if isinstance(value.get("Ref"), str) and not value["Ref"].startswith("AWS::"):
                found.add((stack, value["Ref"]))
            if "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"]
                found.add((stack, target[0] if isinstance(target, list) else target.split(".", 1)[0]))
            if "Fn::ImportValue" in value and value["Fn::ImportValue"] in self.exports:
                exporter, exported = self.exports[value["Fn::ImportValue"]]
                found |= self.refs(exporter, exported)
            for item in value.values():
                found |= self.refs(stack, item)
        elif isinstance(value, list):
            for item in value:
                found |= self.refs(stack, item)
        return found

    def render(self, stack: str, value: Any) -> str:
        """A resource expression as a reader wants it: ``TradingTablesFixtures.Arn``, ``.../index/by-kick-off``."""
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return ", ".join(self.render(stack, item) for item in value)
        if "Ref" in value:
            return "${" + value["Ref"] + "}" if value["Ref"].startswith("AWS::") else _short(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id, attribute = target if isinstance(target, list) else target.split(".", 1)
            return f"{_short(logical_id)}.{attribute}"
        if "Fn::ImportValue" in value and value["Fn::ImportValue"] in self.exports:
            exporter, exported = self.exports[value["Fn::ImportValue"]]
            return self.render(exporter, exported)
        if "Fn::Join" in value:
            return value["Fn::Join"][0].join(self.render(stack, part) for part in value["Fn::Join"][1])
        if "Fn::Sub" in value:
            return str(value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0])
        return json.dumps(value)


def _short(logical_id: str) -> str:
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(app: App, stack: str, role_id: str) -> list[dict[str, Any]]:
    role = app.stacks[stack].template["Resources"][role_id]
    statements = [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
    ]
    for policy_stack, _, policy in app.resources("AWS::IAM::Policy"):
        if policy_stack == stack and {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements.extend(_as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
    return statements


def _integration_action(resource: str) -> str | None:
    """The IAM action of a Task state's integration: ``arn:aws:states:::sns:publish`` -> ``sns:Publish``."""
    match = re.match(r"^arn:aws:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z]+)(\.\w+)?$", resource)
    if match is None:
        return None
    service, operation = match.group(2), match.group(3)
    if (service, operation) == ("lambda", "invoke"):
        return "lambda:InvokeFunction"
    return f"{service}:{operation[0].upper()}{operation[1:]}"


def _task_uses(app: App, stack: str, machine: dict[str, Any]) -> list[tuple[str, set[Ref], str]]:
    """(IAM action, resources it targets, state name) for every Task state of a state machine."""
    properties = machine["Properties"]
    definition = json.loads(properties["DefinitionString"]) if isinstance(properties["DefinitionString"], str) else {}
    substitutions = properties.get("DefinitionSubstitutions", {})
    uses: list[tuple[str, set[Ref], str]] = []

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            action = _integration_action(state.get("Resource", "")) if state.get("Type") == "Task" else None
            if action is not None:
                placeholders = re.findall(r"\$\{(\w+)\}", json.dumps(state.get("Parameters", {})))
                targets = {ref for key in placeholders for ref in app.refs(stack, substitutions.get(key))}
                uses.append((action, targets, name))
            for branch in state.get("Branches", []):
                walk(branch["States"])
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key]["States"])

    walk(definition.get("States", {}))
    return uses


def _encrypting_keys(app: App) -> dict[Ref, set[Ref]]:
    """KMS key -> the tables, topics and queues it encrypts."""
    encrypted: dict[Ref, set[Ref]] = {}
    for resource_type, key_path in (
        ("AWS::DynamoDB::Table", ("SSESpecification", "KMSMasterKeyId")),
        ("AWS::SNS::Topic", ("KmsMasterKeyId",)),
        ("AWS::SQS::Queue", ("KmsMasterKeyId",)),
    ):
        for stack, logical_id, resource in app.resources(resource_type):
            value: Any = resource.get("Properties", {})
            for part in key_path:
                value = value.get(part) if isinstance(value, dict) else None
            for key in app.refs(stack, value):
                encrypted.setdefault(key, set()).add((stack, logical_id))
    return encrypted


def _where_service_side(
    action: str, targets: set[Ref], granted: set[Ref], encrypted: dict[Ref, set[Ref]], *, logs: bool, tracing: bool
) -> str | None:
    if action.startswith("xray:") and tracing:
        return "the service (X-Ray tracing)"
    if action.startswith("logs:") and logs:
        return "the service (logging)"
    if action.startswith("kms:"):
        used = {resource for key in targets for resource in encrypted.get(key, set())} & granted
        if used:
            return "KMS on the caller's behalf for " + ", ".join(sorted(_short(r[1]) for r in used))
    return None


def check(assembly: Path) -> list[Grant]:
    app = App(read_stacks(assembly))
    encrypted = _encrypting_keys(app)
    machines = {
        (s, m["Properties"]["RoleArn"]["Fn::GetAtt"][0]): (s, m)
        for s, _, m in app.resources("AWS::StepFunctions::StateMachine")
    }
    functions = {
        (s, f["Properties"]["Role"]["Fn::GetAtt"][0]): (s, lid, f)
        for s, lid, f in app.resources("AWS::Lambda::Function")
    }
    destinations = {
        (s, str(c["Properties"]["FunctionName"].get("Ref"))): c["Properties"].get("DestinationConfig", {})
        for s, _, c in app.resources("AWS::Lambda::EventInvokeConfig")
        if isinstance(c["Properties"]["FunctionName"], dict)
    }
    grants: list[Grant] = []
    for stack, role_id, _ in app.resources("AWS::IAM::Role"):
        statements = _statements(app, stack, role_id)
        granted = {ref for statement in statements for ref in app.refs(stack, statement.get("Resource"))}
        for statement in statements:
            targets = app.refs(stack, statement.get("Resource"))
            resource = app.render(stack, statement.get("Resource"))
            for action in _as_list(statement.get("Action")):
                grants.append(
                    _grant(
                        app,
                        stack,
                        role_id,
                        action,
                        resource,
                        targets,
                        granted,
                        encrypted,
                        machines,
                        functions,
                        destinations,
                    )
                )
    return grants


def _grant(
    app: App,
    stack: str,
    role_id: str,
    action: str,
    resource: str,
    targets: set[Ref],
    granted: set[Ref],
    encrypted: dict[Ref, set[Ref]],
    machines: dict[Ref, tuple[str, dict[str, Any]]],
    functions: dict[Ref, tuple[str, str, dict[str, Any]]],
    destinations: dict[Ref, Any],
) -> Grant:
    role = _short(role_id)
    if (stack, role_id) in machines:
        _, machine = machines[(stack, role_id)]
        properties = machine["Properties"]
        where = _where_service_side(
            action,
            targets,
            granted,
            encrypted,
            logs="LoggingConfiguration" in properties and action in _LOG_DELIVERY_ACTIONS,
            tracing=bool(properties.get("TracingConfiguration", {}).get("Enabled")),
        )
        if where is None:
            states = [
                name
                for used_action, used_targets, name in _task_uses(app, stack, machine)
                if used_action.lower() == action.lower() and used_targets & targets
            ]
            where = "states " + ", ".join(states) if states else ""
        return Grant(role, action, resource, where or "UNUSED: no state of the workflow uses it", not where)
    if (stack, role_id) in functions:
        _, function_id, function = functions[(stack, role_id)]
        properties = function["Properties"]
        where = _where_service_side(
            action,
            targets,
            granted,
            encrypted,
            logs=True,
            tracing=properties.get("TracingConfig", {}).get("Mode") == "Active",
        )
        destination = destinations.get((stack, function_id), {})
        if where is None and targets & app.refs(stack, destination):
            where = "Lambda's on-failure destination"
        return Grant(role, action, resource, where or f"handler {properties['Handler']} (unverified)")
    return Grant(role, action, resource, "assumed outside the workflows (not checked)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.iam_check", description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)
    grants = check(args.assembly)
    for grant in grants:
        print(f"{grant.role} -> {grant.action} -> {grant.resource} -> {grant.where}")
    unused = [grant for grant in grants if grant.unused]
    print(f"{len(grants)} grants, {len(unused)} unused by their workflow")
    return 1 if unused else 0


if __name__ == "__main__":
    sys.exit(main())
