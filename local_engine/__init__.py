"""The local engine: the synthesized app provisioned into moto, run with the real ASL and the real handlers.

``python -m local_engine.demo`` plays whole matches; ``python -m local_engine.replay`` replays a feed file.
"""
