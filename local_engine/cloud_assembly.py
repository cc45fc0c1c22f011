"""Reading what `cdk synth` wrote: the stacks in deployment order and CloudFormation's intrinsic functions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CloudAssemblyError(RuntimeError):
    """The cloud assembly is missing, or uses something the local engine cannot resolve."""


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template: dict[str, Any]
    depends_on: tuple[str, ...]


def read_stacks(assembly_dir: Path) -> list[StackArtifact]:
    """The stacks of a cloud assembly (``cdk.out``), each after the stacks it depends on."""
    manifest_file = assembly_dir / "manifest.json"
    if not manifest_file.exists():
        raise CloudAssemblyError(f"{manifest_file} not found: run `make synth` first")
    artifacts = json.loads(manifest_file.read_text())["artifacts"]
    stacks = {
        name: StackArtifact(
            name=name,
            template=json.loads((assembly_dir / artifact["properties"]["templateFile"]).read_text()),
            depends_on=tuple(
                dependency
                for dependency in artifact.get("dependencies", [])
                if artifacts.get(dependency, {}).get("type") == "aws:cloudformation:stack"
            ),
        )
        for name, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    return [stacks[name] for name in _topological_order({name: stack.depends_on for name, stack in stacks.items()})]


def _topological_order(depends_on: Mapping[str, tuple[str, ...] | list[str] | set[str]]) -> list[str]:
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise CloudAssemblyError(f"dependency cycle through {name}")
        visiting.add(name)
        for dependency in sorted(depends_on.get(name, ())):
            if dependency in depends_on:
                visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(depends_on):
        visit(name)
    return ordered


def resource_order(resources: Mapping[str, dict[str, Any]]) -> list[str]:
    """Logical ids of a template's resources, each after every resource it references or depends on."""
    return _topological_order(
        {
            logical_id: set(_as_list(resource.get("DependsOn"))) | references(resource.get("Properties", {}))
            for logical_id, resource in resources.items()
        }
    )


def references(value: Any) -> set[str]:
    """Logical ids named by Ref, Fn::GetAtt and Fn::Sub inside ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".", 1)[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            found |= {name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)}
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
NO_VALUE = object()


@dataclass
class Resolver:
    """Resolves intrinsic functions against resources already provisioned and the exports of earlier stacks."""

    stack_name: str
    region: str
    account: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)

    def pseudo(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name not in values:
            raise CloudAssemblyError(f"{self.stack_name}: pseudo parameter {name} is not supported locally")
        return values[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": lambda a: a[0].join(str(self.resolve(part)) for part in a[1]),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(a[0]),
            "Fn::Sub": self._sub,
            "Fn::ImportValue": self._import,
        }

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name not in self.refs:
            raise CloudAssemblyError(f"{self.stack_name}: Ref to {name}, which is not provisioned")
        return self.refs[name]

    def _get_att(self, argument: Any) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise CloudAssemblyError(
                f"{self.stack_name}: Fn::GetAtt {logical_id}.{attribute} is not known locally"
            ) from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument[0], self.resolve(argument[1])) if isinstance(argument, list) else (argument, {})

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._get_att(name)
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _import(self, argument: Any) -> str:
        name = self.resolve(argument)
        if name not in self.exports:
            raise CloudAssemblyError(f"{self.stack_name}: Fn::ImportValue {name} is exported by no earlier stack")
        return self.exports[name]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
