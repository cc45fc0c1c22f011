"""Publishing to AWS IoT Core's message broker through the iot-data HTTPS API."""

from __future__ import annotations

from typing import Any


class IotPublisher:
    """Publishes QoS 1 messages, not retained.

    Retaining would give the console nothing: AWS IoT Core delivers a retained message on SUBSCRIBE only to a topic
    filter that matches its topic exactly, never to a wildcard one (AWS IoT Core Developer Guide, "MQTT retained
    messages", https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain), and the console
    subscribes to the one wildcard filter ``trading/v1/fixtures/+/prices``; it loads the board from the query API.
    A retained publish would also need ``iot:RetainPublish`` beside ``iot:Publish`` and is metered extra.

    Parameters
    ----------
    client
        A boto3 ``iot-data`` client pointed at the account's data endpoint (see :func:`iot_data_client`).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    retain = False  # tests/infrastructure/test_intent.py holds the bridge's IAM grant to this

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic=topic, qos=1, retain=self.retain, payload=payload)


def iot_data_client(endpoint: str | None, *, iot_client: Any = None) -> Any:
    """An ``iot-data`` client for ``endpoint``, or for the account's ATS data endpoint when none is given.

    The account-specific endpoint is what AWS documents for publishing; it is looked up once per cold start.
    """
    import boto3  # deferred: only the bridge pays for boto3's import, and only once

    if endpoint is None:
        iot_client = iot_client or boto3.client("iot")
        endpoint = iot_client.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    url = endpoint if endpoint.startswith(("https://", "http://")) else f"https://{endpoint}"
    return boto3.client("iot-data", endpoint_url=url)
