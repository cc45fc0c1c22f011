"""The architecture diagram is generated from the synthesized app and committed: it must match the app."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from local_engine.cloud_assembly import StackArtifact, read_stacks
from stacks.constants import PROJECT_ROOT
from tests.synth import SynthesizedApp
from tools.diagram import build_architecture, definition_states, flow_of, literal_definition, render

DOCS = PROJECT_ROOT / "docs"


def test_committed_diagram_matches_the_app(dev_app: SynthesizedApp) -> None:
    # Given the dev app as synthesized now
    # When the diagram is generated from it
    drawio, svg = render(dev_app.outdir)

    # Then it is byte for byte the committed one (regenerate with `make diagram` after changing the app)
    assert drawio == (DOCS / "architecture.drawio").read_text(), "docs/architecture.drawio is stale: make diagram"
    assert svg == (DOCS / "architecture.svg").read_text(), "docs/architecture.svg is stale: make diagram"


def test_drawio_parses_and_shows_every_state_of_every_workflow(dev_app: SynthesizedApp) -> None:
    # Given the committed draw.io file and the app's state machines
    root = ET.parse(DOCS / "architecture.drawio").getroot()
    machines = dev_app.resources("AWS::StepFunctions::StateMachine")
    assert machines

    # Then it is mxGraph XML and every state of every state machine is a cell
    assert root.tag == "mxfile"
    cells = root.findall("./diagram/mxGraphModel/root/mxCell")
    values = {cell.get("value", "").split("\n")[0] for cell in cells}
    for machine in machines.values():
        states = json.loads(machine["Properties"]["DefinitionString"])["States"]
        assert set(states) <= values
    # and every edge joins two cells that exist
    ids = {cell.get("id") for cell in cells}
    edges = [cell for cell in cells if cell.get("edge") == "1"]
    assert edges and all(edge.get("source") in ids and edge.get("target") in ids for edge in edges)


def test_workflow_arrows_come_from_its_substitutions(dev_app: SynthesizedApp) -> None:
    # Given the architecture read from the dev app
    architecture = build_architecture(read_stacks(dev_app.outdir))
    (workflow,) = [
        node for node in architecture.nodes.values() if node.kind == "State machine" and "Feed" in node.label
    ]

    # Then the workflow points at the tables it writes, its Lambda, the price topic and its quarantine queue
    # (across stacks, through the exports), and the ingest API points at the workflow
    targets = sorted(architecture.nodes[target].label for source, target in architecture.edges if source == workflow.id)
    assert targets == [
        "FeedWorkflowApplyFeedEvent",
        "FeedWorkflowQuarantinedEvents",
        "PriceFanoutPriceTopic",
        "TradingTablesFixtures",
        "TradingTablesPrices",
    ]
    assert any(
        architecture.nodes[source].kind == "REST API" for source, target in architecture.edges if target == workflow.id
    )


def test_a_new_stack_lands_in_its_flow_with_its_states() -> None:
    # Given a trader stack the generator has never seen: a workflow whose definition is an Fn::Join
    definition = {
        "Fn::Join": [
            "",
            [
                '{"StartAt":"Check","States":{"Check":{"Type":"Choice","Choices":[{"Variable":"$.x",'
                '"BooleanEquals":true,"Next":"Apply"}],"Default":"Reject"},"Reject":{"Type":"Fail"},'
                '"Apply":{"Type":"Task","Resource":"',
                {"Fn::GetAtt": ["ApplyCommand1234ABCD", "Arn"]},
                '","End":true}}}',
            ],
        ]
    }
    stack = StackArtifact(
        name="TradingEngine-dev-TraderApi",
        template={
            "Resources": {
                "ApplyCommand1234ABCD": {"Type": "AWS::Lambda::Function", "Properties": {}},
                "TraderCommandABCD1234": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {"DefinitionString": definition},
                },
            }
        },
        depends_on=(),
    )

    # When the architecture is built
    architecture = build_architecture([stack])

    # Then both land in the trader flow, the states are in execution order and the task points at its Lambda
    assert {node.flow for node in architecture.nodes.values()} == {"trader"}
    workflow = architecture.nodes["TraderApi.TraderCommandABCD1234"]
    assert workflow.states == [("Check", "Choice"), ("Reject", "Fail"), ("Apply", "Task")]
    assert architecture.edges == [("TraderApi.TraderCommandABCD1234", "TraderApi.ApplyCommand1234ABCD")]


def test_flow_rules() -> None:
    # Then resources are grouped by the construct their logical id starts with, within their stack
    assert flow_of("TradingEngine-dev-Feed", "IngestApiFeedIngestB317BEBB") == "ingest"
    assert flow_of("TradingEngine-dev-Feed", "FeedWorkflowFeedEvent96D71A3A") == "workflow"
    assert flow_of("TradingEngine-dev-Fanout", "IotBridgePublishPricesToIot6F3E45C6") == "realtime"
    assert flow_of("TradingEngine-prod-QueryApi", "QueryFixtures0000AAAA") == "trader"
    assert flow_of("TradingEngine-dev-Elsewhere", "Thing0000AAAA") == "other"


def test_literal_definition_keeps_names_and_drops_references() -> None:
    # Given a definition with a referenced ARN inside a string
    definition = {
        "Fn::Join": ["", ['{"StartAt":"A","States":{"A":{"Type":"Pass","Comment":"', {"Ref": "X"}, '","End":true}}}']]
    }

    # Then it parses with the reference replaced, and its single state is found
    assert definition_states(literal_definition(definition)) == [("A", "Pass")]
