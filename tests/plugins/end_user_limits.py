"""A third-party limit strategy: requests per calendar day per end user.

The example of docs/limits.md, verbatim (a test checks that the two stay the same).
"""

from pydantic import BaseModel

from gateway_core import hookimpl
from gateway_core.api import Hold, LimitRequest, LimitStrategy, Outcome


class Options(BaseModel):
    period: str = "day"


class EndUserDailyRequests(LimitStrategy):
    """Requests per calendar day for each end user (the body's ``user`` field)."""

    type_name = "end_user_rpd"
    label = "requests per day per end user"
    config_model = Options
    scopes = frozenset({"key", "team", "global"})

    def charge(self, request: LimitRequest) -> Hold | None:
        user = request.body.get("user")
        if not isinstance(user, str) or not user:
            return None  # requests without an end user do not count
        # A Hold kept after settlement is a counter per period: this one restarts every day
        # at midnight in the team's time zone.
        return Hold(1, period=request.period(self.config.period), name=f"user:{user[:200]}")

    def settle(self, reserved: int, outcome: Outcome) -> int:
        return reserved  # every request counts, answered or not


@hookimpl
def gateway_register_limit_strategies(strategies):
    strategies.add(EndUserDailyRequests)
