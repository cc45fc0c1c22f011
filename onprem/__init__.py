"""The on-prem bridges: the feed forwarder (Kafka -> ingest API) and the outbound poller (SQS -> Kafka).

This package runs outside AWS, in the estate's own container platform (onprem/Dockerfile). It imports
nothing from the CDK app or the Lambda code: onprem/requirements.txt is all it needs.
"""
