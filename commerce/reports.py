"""Notes an app sends about a row another app owns, for the owner to record.

Payments, fulfillment and spending limits do not write an order's history: each sends its app's
``order_noted`` signal with ``Note`` objects, inside the transaction of the change, and the orders app,
which connects the receivers, writes them as order events. The kernel only defines the note.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Note:
    """What happened to the row ``subject_id`` (an order): a message, why, and details."""

    subject_id: int
    message: str
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
