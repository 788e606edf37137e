"""WakeHub's pure core: the topology model and the power planner.

Nothing here imports Home Assistant or talks to the network; the integration
builds a :class:`Topology` from its config entries, asks the planner for the
steps of a cascade and hands them to the channels.
"""

from __future__ import annotations

from .errors import (
    CoreError,
    DependencyCycleError,
    DuplicateDependencyError,
    DuplicateNodeError,
    InvalidMacError,
    InvalidNodeError,
    InvalidParentError,
    SelfDependencyError,
    TopologyError,
    UnknownDependencyError,
    UnknownNodeError,
)
from .ids import container_id, guest_id, machine_id, normalize_mac
from .model import Capability, Channel, Node, NodeKind, PowerState, is_active
from .planner import (
    Action,
    Decision,
    Reason,
    ReasonKind,
    Step,
    Verdict,
    dependency_marks,
    plan_start,
    plan_stop,
    reevaluate,
)
from .topology import Topology

__all__ = [
    "Action",
    "Capability",
    "Channel",
    "CoreError",
    "Decision",
    "DependencyCycleError",
    "DuplicateDependencyError",
    "DuplicateNodeError",
    "InvalidMacError",
    "InvalidNodeError",
    "InvalidParentError",
    "Node",
    "NodeKind",
    "PowerState",
    "Reason",
    "ReasonKind",
    "SelfDependencyError",
    "Step",
    "Topology",
    "TopologyError",
    "UnknownDependencyError",
    "UnknownNodeError",
    "Verdict",
    "container_id",
    "dependency_marks",
    "guest_id",
    "is_active",
    "machine_id",
    "normalize_mac",
    "plan_start",
    "plan_stop",
    "reevaluate",
]
