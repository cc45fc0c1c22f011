"""Publishing to AWS IoT Core's message broker through the iot-data HTTPS API."""

from __future__ import annotations

from typing import Any


class IotPublisher:
    """Publishes retained QoS 1 messages: a browser that subscribes later still gets each fixture's latest book.

    Parameters
    ----------
    client
        A boto3 ``iot-data`` client pointed at the account's data endpoint (see :func:`iot_data_client`).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic=topic, qos=1, retain=True, payload=payload)


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
