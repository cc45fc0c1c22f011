"""The architecture diagram, generated from the synthesized app: draw.io XML plus an SVG for the README.

Usage: ``python -m tools.diagram [CDK_OUT] [OUTPUT_DIR]`` (``make diagram``) writes
``docs/architecture.drawio`` and ``docs/architecture.svg``.

Nothing is drawn by hand: every box is a resource of the cloud assembly, every arrow a reference between
resources (a workflow's task targets, SNS subscriptions, API integrations, redrive and failure
destinations, IoT publish grants, schedules), and each workflow shows the states of its definition.
Resources are grouped by flow (``FLOW_RULES``); the layout is columns, one per flow, in ``FLOW_ORDER``.
The output is deterministic: sorted, ids from logical ids, no clock.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from local_engine.cloud_assembly import StackArtifact, read_stacks, references

# Flow of a resource: the first rule whose stack-name and logical-id patterns both match.
FLOW_RULES: tuple[tuple[str, str, str], ...] = (
    ("ingest", r"-Feed$", r"^IngestApi"),
    ("workflow", r"-Feed$", r"^FeedWorkflow"),
    ("workflow", r"-Storage$", r""),
    ("fan-out", r"-Fanout$", r"^PriceFanout"),
    ("realtime", r"-Fanout$", r"^IotBridge"),
    ("realtime", r"-RealtimeAccess$", r""),
    ("trader", r"-(Trader|Query|Console)\w*$", r""),
    ("operations", r"-(Operations|Monitoring)$", r""),
    ("operations", r"", r"^CapacityPlanner"),
)
FLOW_ORDER = ("ingest", "workflow", "fan-out", "realtime", "trader", "operations", "other")
FLOW_TITLES = {
    "ingest": "Ingest",
    "workflow": "Workflow",
    "fan-out": "Fan-out",
    "realtime": "Realtime",
    "trader": "Trader",
    "operations": "Operations",
    "other": "Other",
}

# The resource types drawn, in the order they stack inside a flow, with their fill colour.
DRAWN_TYPES: dict[str, tuple[str, str]] = {
    "AWS::ApiGateway::RestApi": ("REST API", "#f8cecc"),
    "AWS::Scheduler::Schedule": ("Schedule", "#f8cecc"),
    "AWS::Events::Rule": ("EventBridge rule", "#f8cecc"),
    "AWS::StepFunctions::StateMachine": ("State machine", "#fce4ec"),
    "AWS::Lambda::Function": ("Lambda", "#ffe6cc"),
    "AWS::DynamoDB::Table": ("DynamoDB table", "#dae8fc"),
    "AWS::SNS::Topic": ("SNS topic", "#e1d5e7"),
    "AWS::SQS::Queue": ("SQS queue", "#e1d5e7"),
    "AWS::Cognito::UserPool": ("Cognito user pool", "#d5e8d4"),
    "AWS::Cognito::IdentityPool": ("Cognito identity pool", "#d5e8d4"),
    "AWS::IoT::Policy": ("IoT policy", "#d5e8d4"),
    "AWS::CloudWatch::Dashboard": ("Dashboard", "#f5f5f5"),
    "AWS::Logs::QueryDefinition": ("Logs Insights query", "#f5f5f5"),
}
IOT_CORE_ID = "IoTCore"  # IoT Core has no resource: it is drawn where a role may iot:Publish
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")

NODE_WIDTH, NODE_HEIGHT = 260, 48
STATE_WIDTH, STATE_HEIGHT, STATE_COLUMNS = 190, 34, 3
GAP, PADDING, TITLE_HEIGHT = 16, 16, 32


@dataclass
class Node:
    id: str
    label: str
    kind: str
    flow: str
    fill: str
    states: list[tuple[str, str]] = field(default_factory=list)  # (name, kind) in visiting order
    x: int = 0
    y: int = 0
    width: int = NODE_WIDTH
    height: int = NODE_HEIGHT


@dataclass(frozen=True)
class Architecture:
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]


def readable_name(logical_id: str) -> str:
    """The construct path CDK folded into the logical id, without its 8-character hash."""
    return _HASH_SUFFIX.sub("", logical_id)


def flow_of(stack_name: str, logical_id: str) -> str:
    for flow, stack_pattern, id_pattern in FLOW_RULES:
        if re.search(stack_pattern, stack_name) and re.search(id_pattern, logical_id):
            return flow
    return "other"


def definition_states(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """States in the order an execution meets them (breadth first from StartAt), unreachable ones last."""
    states: dict[str, dict[str, Any]] = definition.get("States", {})
    order: list[str] = []
    queue = deque([definition["StartAt"]])
    while queue:
        name = queue.popleft()
        if name in order or name not in states:
            continue
        order.append(name)
        state = states[name]
        following = [state.get("Next"), state.get("Default")]
        following += [choice.get("Next") for choice in state.get("Choices", [])]
        following += [catcher.get("Next") for catcher in state.get("Catch", [])]
        queue.extend(name for name in following if name)
    order += [name for name in states if name not in order]
    return [(name, _state_kind(states[name])) for name in order]


def _state_kind(state: dict[str, Any]) -> str:
    if state["Type"] == "Task":
        resource = str(state.get("Resource", ""))
        return resource.removeprefix("arn:aws:states:::") if resource.startswith("arn:aws:states:::") else "Task"
    return str(state["Type"])


def literal_definition(definition_string: Any) -> dict[str, Any]:
    """A DefinitionString with its Fn::Join resolved by keeping the literal pieces (only names are needed)."""
    if isinstance(definition_string, str):
        return json.loads(definition_string)
    separator, pieces = definition_string["Fn::Join"]
    text = separator.join(piece if isinstance(piece, str) else "RESOLVED" for piece in pieces)
    return json.loads(text)


Key = tuple[str, str]  # (stack name, logical id)


class AssemblyIndex:
    """Every resource of the app by (stack, logical id), and references resolved across stacks."""

    def __init__(self, stacks: list[StackArtifact]) -> None:
        self.exports = {
            output["Export"]["Name"]: (stack.name, _referenced_id(output["Value"]))
            for stack in stacks
            for output in stack.template.get("Outputs", {}).values()
            if "Export" in output
        }
        self.resources: dict[Key, dict[str, Any]] = {
            (stack.name, logical_id): resource
            for stack in stacks
            for logical_id, resource in stack.template.get("Resources", {}).items()
        }
        self.functions_by_role = {
            (stack_name, role): (stack_name, logical_id)
            for (stack_name, logical_id), resource in self.resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
            for role in references(resource["Properties"].get("Role"))
        }

    def targets(self, stack_name: str, value: Any) -> set[Key]:
        """Resources ``value`` references, across stacks, with aliases and versions taken to their function."""
        found = {(stack_name, logical_id) for logical_id in references(value)}
        found |= {self.exports[name] for name in _imports(value) if name in self.exports}
        resolved = set()
        for key in found:
            resource = self.resources.get(key, {})
            if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
                resolved |= {(key[0], ref) for ref in references(resource["Properties"]["FunctionName"])}
            else:
                resolved.add(key)
        return resolved

    def edges(self, key: Key, resource: dict[str, Any]) -> list[tuple[Key, Key]]:
        """The arrows one resource implies (source -> target), by resource type."""
        stack_name, properties = key[0], resource.get("Properties", {})

        def pairs(sources: Any, destinations: Any) -> list[tuple[Key, Key]]:
            return [
                (source, target)
                for source in self.targets(stack_name, sources)
                for target in self.targets(stack_name, destinations)
            ]

        match resource["Type"]:
            case "AWS::StepFunctions::StateMachine":
                task_targets = [properties.get("DefinitionString"), properties.get("DefinitionSubstitutions", {})]
                return [(key, target) for target in self.targets(stack_name, task_targets)]
            case "AWS::SNS::Subscription":
                return pairs(properties["TopicArn"], properties["Endpoint"])
            case "AWS::ApiGateway::Method":
                return pairs(properties["RestApiId"], properties.get("Integration", {}))
            case "AWS::Lambda::EventInvokeConfig":
                return pairs(properties["FunctionName"], properties.get("DestinationConfig", {}))
            case "AWS::SQS::Queue":
                return [(key, target) for target in self.targets(stack_name, properties.get("RedrivePolicy", {}))]
            case "AWS::Scheduler::Schedule" | "AWS::Events::Rule":
                targets = properties.get("Target", properties.get("Targets", {}))
                return [(key, target) for target in self.targets(stack_name, targets)]
            case "AWS::IAM::Policy" if _allows(properties, "iot:Publish"):
                roles = self.targets(stack_name, properties.get("Roles", []))
                return [
                    (self.functions_by_role[role], IOT_CORE_KEY) for role in roles if role in self.functions_by_role
                ]
        return []


IOT_CORE_KEY: Key = ("", IOT_CORE_ID)


def node_id(key: Key) -> str:
    stack_name, logical_id = key
    return f"{stack_name.rsplit('-', 1)[-1]}.{logical_id}" if stack_name else logical_id


def build_architecture(stacks: list[StackArtifact]) -> Architecture:
    """Nodes (one per drawn resource, plus IoT Core where it is published to) and the edges between them."""
    index = AssemblyIndex(stacks)
    nodes: dict[str, Node] = {}
    for (stack_name, logical_id), resource in sorted(index.resources.items()):
        if resource["Type"] not in DRAWN_TYPES:
            continue
        kind, fill = DRAWN_TYPES[resource["Type"]]
        node = Node(
            id=node_id((stack_name, logical_id)),
            label=readable_name(logical_id),
            kind=kind,
            flow=flow_of(stack_name, logical_id),
            fill=fill,
        )
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            node.states = definition_states(literal_definition(resource["Properties"]["DefinitionString"]))
        nodes[node.id] = node

    edges: set[tuple[str, str]] = set()
    for key, resource in sorted(index.resources.items()):
        for source, target in index.edges(key, resource):
            if target == IOT_CORE_KEY:
                nodes.setdefault(
                    IOT_CORE_ID,
                    Node(IOT_CORE_ID, "IoT Core MQTT", "topics", "realtime", DRAWN_TYPES["AWS::IoT::Policy"][1]),
                )
            if node_id(source) in nodes and node_id(target) in nodes and source != target:
                edges.add((node_id(source), node_id(target)))
    return Architecture(nodes=nodes, edges=sorted(edges))


def _referenced_id(value: Any) -> str:
    (logical_id,) = references(value)
    return logical_id


def _imports(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["Fn::ImportValue"]] if isinstance(value.get("Fn::ImportValue"), str) else []
        return own + [name for child in value.values() for name in _imports(child)]
    if isinstance(value, list):
        return [name for child in value for name in _imports(child)]
    return []


def _allows(policy_properties: dict[str, Any], action: str) -> bool:
    for statement in policy_properties.get("PolicyDocument", {}).get("Statement", []):
        actions = statement.get("Action", [])
        if statement.get("Effect") == "Allow" and action in ([actions] if isinstance(actions, str) else actions):
            return True
    return False


@dataclass(frozen=True)
class FlowBox:
    flow: str
    x: int
    y: int
    width: int
    height: int


def lay_out(architecture: Architecture) -> list[FlowBox]:
    """Place each flow as a column and its resources top to bottom (types in DRAWN_TYPES order)."""
    type_rank = {kind: rank for rank, (kind, _) in enumerate(DRAWN_TYPES.values())}
    boxes: list[FlowBox] = []
    x = PADDING
    for flow in FLOW_ORDER:
        members = sorted(
            (node for node in architecture.nodes.values() if node.flow == flow),
            key=lambda node: (type_rank.get(node.kind, len(type_rank)), node.label),
        )
        if not members:
            continue
        for node in members:
            if node.states:
                rows = -(-len(node.states) // STATE_COLUMNS)
                node.width = STATE_COLUMNS * (STATE_WIDTH + GAP) + GAP
                node.height = TITLE_HEIGHT + rows * (STATE_HEIGHT + GAP) + GAP
        width = max(node.width for node in members) + 2 * PADDING
        y = PADDING + TITLE_HEIGHT + PADDING
        for node in members:
            node.x, node.y = x + (width - node.width) // 2, y
            y += node.height + GAP * 2
        boxes.append(FlowBox(flow, x, PADDING, width, y - PADDING))
        x += width + GAP * 3
    height = max(box.height for box in boxes)
    return [FlowBox(box.flow, box.x, box.y, box.width, height) for box in boxes]


def state_positions(node: Node) -> list[tuple[str, str, int, int]]:
    """Each state's name, kind and top-left corner inside its state machine's box, row by row."""
    return [
        (
            name,
            kind,
            node.x + GAP + (index % STATE_COLUMNS) * (STATE_WIDTH + GAP),
            node.y + TITLE_HEIGHT + (index // STATE_COLUMNS) * (STATE_HEIGHT + GAP),
        )
        for index, (name, kind) in enumerate(node.states)
    ]


def to_drawio(architecture: Architecture, boxes: list[FlowBox]) -> str:
    """mxGraph XML as draw.io saves it (uncompressed): mxfile/diagram/mxGraphModel/root/mxCell."""
    cells = ['        <mxCell id="0" />', '        <mxCell id="1" parent="0" />']

    def vertex(cell_id: str, value: str, style: str, x: int, y: int, width: int, height: int) -> None:
        cells.append(
            f"        <mxCell id={quoteattr(cell_id)} value={quoteattr(value)} style={quoteattr(style)} "
            f'vertex="1" parent="1">\n'
            f'          <mxGeometry x="{x}" y="{y}" width="{width}" height="{height}" as="geometry" />\n'
            "        </mxCell>"
        )

    for box in boxes:
        vertex(
            f"flow.{box.flow}",
            FLOW_TITLES[box.flow],
            "swimlane;startSize=32;fillColor=#f5f5f5;strokeColor=#666666;fontStyle=1;",
            box.x,
            box.y,
            box.width,
            box.height,
        )
    for node in sorted(architecture.nodes.values(), key=lambda node: node.id):
        if node.states:
            vertex(
                node.id,
                f"{node.label} ({node.kind})",
                f"swimlane;startSize=32;rounded=1;fillColor={node.fill};strokeColor=#b0004f;",
                node.x,
                node.y,
                node.width,
                node.height,
            )
            for name, kind, x, y in state_positions(node):
                vertex(
                    f"{node.id}.state.{name}",
                    f"{name}&#10;{kind}",
                    "rounded=1;whiteSpace=wrap;html=0;fillColor=#ffffff;fontSize=10;",
                    x,
                    y,
                    STATE_WIDTH,
                    STATE_HEIGHT,
                )
        else:
            vertex(
                node.id,
                f"{node.label}&#10;{node.kind}",
                f"rounded=1;whiteSpace=wrap;html=0;fillColor={node.fill};",
                node.x,
                node.y,
                node.width,
                node.height,
            )
    for source, target in architecture.edges:
        cells.append(
            f"        <mxCell id={quoteattr(f'edge.{source}->{target}')} "
            'style="edgeStyle=orthogonalEdgeStyle;rounded=1;endArrow=block;" '
            f'edge="1" parent="1" source={quoteattr(source)} target={quoteattr(target)}>\n'
            '          <mxGeometry relative="1" as="geometry" />\n'
            "        </mxCell>"
        )
    # quoteattr escapes the newline entity's ampersand; draw.io reads &#10; as a line break in values.
    body = "\n".join(cells).replace("&amp;#10;", "&#10;")
    return (
        '<mxfile host="tools/diagram.py">\n'
        '  <diagram id="architecture" name="Architecture">\n'
        '    <mxGraphModel grid="1" gridSize="8" page="0">\n'
        "      <root>\n"
        f"{body}\n"
        "      </root>\n"
        "    </mxGraphModel>\n"
        "  </diagram>\n"
        "</mxfile>\n"
    )


def to_svg(architecture: Architecture, boxes: list[FlowBox]) -> str:
    """The same layout as plain SVG (no renderer needed), for the README."""
    width = max(box.x + box.width for box in boxes) + PADDING
    height = max(box.y + box.height for box in boxes) + PADDING
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '  <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>',
        f'  <rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]

    def text(x: float, y: float, lines: list[str], *, size: int = 12, bold: bool = False) -> str:
        weight = ' font-weight="bold"' if bold else ""
        spans = "".join(
            f'<tspan x="{x:g}" dy="{0 if index == 0 else size + 2}">{escape(line)}</tspan>'
            for index, line in enumerate(lines)
        )
        return f'  <text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="middle"{weight}>{spans}</text>'

    for box in boxes:
        parts.append(
            f'  <rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="6" '
            'fill="#f5f5f5" stroke="#666666"/>'
        )
        parts.append(text(box.x + box.width / 2, box.y + 21, [FLOW_TITLES[box.flow]], size=14, bold=True))
    for node in sorted(architecture.nodes.values(), key=lambda node: node.id):
        parts.append(
            f'  <rect x="{node.x}" y="{node.y}" width="{node.width}" height="{node.height}" rx="8" '
            f'fill="{node.fill}" stroke="#333333"/>'
        )
        if node.states:
            parts.append(text(node.x + node.width / 2, node.y + 20, [f"{node.label} ({node.kind})"], bold=True))
            for name, kind, x, y in state_positions(node):
                parts.append(
                    f'  <rect x="{x}" y="{y}" width="{STATE_WIDTH}" height="{STATE_HEIGHT}" rx="6" '
                    'fill="#ffffff" stroke="#999999"/>'
                )
                parts.append(text(x + STATE_WIDTH / 2, y + 14, [name, kind], size=10))
        else:
            parts.append(text(node.x + node.width / 2, node.y + 20, [node.label, node.kind]))
    for index, (source, target) in enumerate(architecture.edges):
        points = _route(architecture.nodes[source], architecture.nodes[target], detour=12 + 6 * (index % 4))
        parts.append(
            '  <polyline points="'
            + " ".join(f"{x:g},{y:g}" for x, y in points)
            + '" fill="none" stroke="#555555" marker-end="url(#arrow)"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _route(start: Node, end: Node, *, detour: int) -> list[tuple[float, float]]:
    """A straight line between side-by-side boxes; boxes in one column are joined around their right side,
    so the line never crosses the boxes between them."""
    start_middle, end_middle = start.y + start.height / 2, end.y + end.height / 2
    if end.x >= start.x + start.width:
        return [(start.x + start.width, start_middle), (end.x, end_middle)]
    if end.x + end.width <= start.x:
        return [(start.x, start_middle), (end.x + end.width, end_middle)]
    right = max(start.x + start.width, end.x + end.width) + detour
    return [
        (start.x + start.width, start_middle),
        (right, start_middle),
        (right, end_middle),
        (end.x + end.width, end_middle),
    ]


def render(assembly_dir: Path) -> tuple[str, str]:
    """The draw.io XML and the SVG of the app synthesized in ``assembly_dir``."""
    architecture = build_architecture(read_stacks(assembly_dir))
    boxes = lay_out(architecture)
    return to_drawio(architecture, boxes), to_svg(architecture, boxes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("assembly", nargs="?", type=Path, default=Path("cdk.out"))
    parser.add_argument("output_dir", nargs="?", type=Path, default=Path("docs"))
    arguments = parser.parse_args(argv)
    drawio, svg = render(arguments.assembly)
    (arguments.output_dir / "architecture.drawio").write_text(drawio)
    (arguments.output_dir / "architecture.svg").write_text(svg)
    print(f"wrote {arguments.output_dir / 'architecture.drawio'} and {arguments.output_dir / 'architecture.svg'}")


if __name__ == "__main__":
    main()
