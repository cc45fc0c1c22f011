"""DynamoDB's atomic item writes, reproduced in moto: a condition is checked and the write applied in one step.

What AWS does. "Individual write operations such as UpdateItem are atomic and always operate on the most recent
version of the item, regardless of concurrency" (Amazon DynamoDB developer guide, "Best practices for handling
concurrent updates in DynamoDB",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/BestPractices_ImplementingVersionControl.html).
The same page's optimistic locking "detects conflicts at write time using conditional writes. If a conflict is
detected, the write fails": a condition expression on PutItem, UpdateItem or DeleteItem is evaluated against the
item as the write finds it (developer guide, "Condition expressions"), so of two writes conditional on the same
version exactly one succeeds and the other gets ConditionalCheckFailedException. TransactWriteItems applies all of
its actions or none (developer guide, "Amazon DynamoDB Transactions").

What moto 5.2.5 does. ``DynamoDBBackend.update_item`` reads the item, evaluates the condition in Python, then
mutates the item in place, attribute by attribute; ``put_item`` and ``delete_item`` likewise check, then write. No
lock: two threads (the local engine runs every workflow execution in its own thread) can both pass a condition on
the same ``revision`` and both write, a lost update that DynamoDB never allows; a concurrent ``get_item`` can see
an item half updated. The fixture's ordering guard (one conditional UpdateItem on the fixture's ``revision``, the
loser deciding again) could not be proved locally.

What this module does. While :func:`serialize_item_operations` is active, every item operation of moto's DynamoDB
backend (the writes above, TransactWriteItems, and GetItem/Query/Scan so that no read sees a write half done)
holds one re-entrant lock. That is coarser than DynamoDB (which serializes per item), so it never allows what
DynamoDB forbids; it only costs local throughput. tests/e2e/test_dynamodb_atomicity.py fails without it.

Written for moto 5.2.5 (``moto.dynamodb.models.DynamoDBBackend``); local_engine/engine.py refuses other versions.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from local_engine.patching import patched

# The backend methods that read or write items (moto 5.2.5). BatchWriteItem's response handler calls put_item and
# delete_item once per item (each atomic, the batch not, as in DynamoDB); TransactWriteItems calls them under its
# own, outer hold of the lock, so the whole transaction is one step.
ITEM_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan")


@contextlib.contextmanager
def serialize_item_operations(lock: threading.RLock | None = None) -> Iterator[threading.RLock]:
    """Make moto's DynamoDB item operations atomic for the length of the block (see the module docstring)."""
    from moto.dynamodb.models import DynamoDBBackend

    held = lock if lock is not None else threading.RLock()
    with contextlib.ExitStack() as stack:
        for name in ITEM_OPERATIONS:
            stack.enter_context(patched(DynamoDBBackend, name, _holding(held, getattr(DynamoDBBackend, name))))
        yield held


def _holding(lock: threading.RLock, operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return operation(*args, **kwargs)

    return atomic
