"""WakeHub's orchestrator: start and stop cascades, step by step.

Free of Home Assistant: the integration implements :class:`NodeDriver` on
top of its channels and coordinators, creates one :class:`Orchestrator` for
the whole domain and maps its events to Home Assistant events, entities and
notifications. See :mod:`.engine` for the execution and concurrency rules,
and :mod:`.power` for how a step goes through the channels and when a node
counts as up (the rules every driver shares).
"""

from __future__ import annotations

from .cascade import (
    CANCEL_CODES,
    STEP_DETAIL_KEYS,
    Cascade,
    CascadeError,
    CascadeStatus,
    CascadeStep,
    Origin,
    StepDetail,
    StepStatus,
)
from .driver import NodeDriver, default_step_timeout
from .engine import (
    DEFAULT_POLL_INTERVAL,
    ERROR_INTERRUPTED,
    ERROR_TIMEOUT,
    ERROR_UNEXPECTED,
    NodeActivity,
    NodeNeededError,
    Orchestrator,
    OrchestratorClosedError,
)
from .events import (
    CascadeEnded,
    CascadeStarted,
    Listener,
    NodeActivityChanged,
    NodeReached,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
)

__all__ = [
    "CANCEL_CODES",
    "DEFAULT_POLL_INTERVAL",
    "ERROR_INTERRUPTED",
    "ERROR_TIMEOUT",
    "ERROR_UNEXPECTED",
    "STEP_DETAIL_KEYS",
    "Cascade",
    "CascadeEnded",
    "CascadeError",
    "CascadeStarted",
    "CascadeStatus",
    "CascadeStep",
    "Listener",
    "NodeActivity",
    "NodeActivityChanged",
    "NodeDriver",
    "NodeNeededError",
    "NodeReached",
    "Orchestrator",
    "OrchestratorClosedError",
    "OrchestratorEvent",
    "Origin",
    "Reevaluated",
    "StepChanged",
    "StepDetail",
    "StepEventKind",
    "StepStatus",
    "default_step_timeout",
]
