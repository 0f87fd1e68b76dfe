"""A TaskQueue that records commands instead of sending them."""

from __future__ import annotations

from syndicate.domain.commands import Command
from syndicate.errors import BrokerUnavailable


class FakeTaskQueue:
    """Records submitted commands; `down=True` refuses them as a broker that is away would."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.submitted: list[Command] = []
        self.current_epoch = "epoch-1"

    def submit(self, command: Command) -> bool:
        """Record the command; False while down."""
        if self.down:
            return False
        self.submitted.append(command)
        return True

    def ping(self) -> None:
        """Raise BrokerUnavailable while down."""
        if self.down:
            raise BrokerUnavailable("fake broker is down")

    def epoch(self) -> str:
        """`current_epoch`; BrokerUnavailable while down. Set a new one to play a lost queue."""
        if self.down:
            raise BrokerUnavailable("fake broker is down")
        return self.current_epoch
