"""Errors raised by WakeHub's pure core.

Every error carries a stable ``code`` and a ``placeholders`` mapping. The Home
Assistant layer uses the code as a translation key (``exceptions.<code>`` in
``strings.json``) and the placeholders to fill it, so what the user reads is
translated while the English ``str()`` of the error stays useful in logs.

Placeholders always use display names (``Node.name``), never raw node ids,
except for :class:`UnknownNodeError`, where no name is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


class CoreError(ValueError):
    """Base class of every error of the pure core."""

    code: str = "core_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        """Store the English message, the translation key and its placeholders."""
        super().__init__(message)
        if code is not None:
            self.code = code
        self.placeholders: dict[str, str] = dict(placeholders or {})


class InvalidMacError(CoreError):
    """A MAC address that cannot be normalised."""

    code = "invalid_mac"

    def __init__(self, value: str) -> None:
        """Name the offending value."""
        super().__init__(
            f"Invalid MAC address {value!r}: expected six hexadecimal bytes such"
            " as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or"
            " aabbccddeeff",
            placeholders={"mac": value},
        )
        self.value = value


class TopologyError(CoreError):
    """The topology refused a change; nothing was modified.

    ``edge`` is the refused dependency edge, ``(dependent, dependency)``,
    when the change was one (see ``Topology.check_dependency``), else
    ``None``.
    """

    code = "topology_error"
    edge: tuple[str, str] | None = None


class InvalidNodeError(TopologyError):
    """A node's own settings contradict its kind.

    Codes: ``empty_node_id``, ``capability_not_allowed`` (e.g. a container with
    a capability, a VM with ``proxmox``) and ``invalid_shutdown_channel`` (a
    machine shut down through Proxmox without the ``proxmox`` capability, or a
    shutdown channel set on a node that is not a machine).
    """

    code = "invalid_node"


class UnknownNodeError(TopologyError):
    """A node id that is not in the topology."""

    code = "unknown_node"

    def __init__(self, node_id: str) -> None:
        """Name the unknown id."""
        super().__init__(f"Unknown node {node_id!r}", placeholders={"node": node_id})
        self.node_id = node_id


class DuplicateNodeError(TopologyError):
    """A node id that is already in the topology."""

    code = "duplicate_node"

    def __init__(self, node_id: str, name: str) -> None:
        """Name the node that already exists."""
        super().__init__(
            f"Node {node_id!r} ({name}) already exists",
            placeholders={"node": name, "node_id": node_id},
        )
        self.node_id = node_id


class InvalidParentError(TopologyError):
    """A hosting relation that the node kinds do not allow.

    Codes: ``parent_required`` (a VM, LXC or container without a parent),
    ``machine_with_parent``, ``parent_is_container`` (containers are leaves),
    ``parent_lacks_proxmox`` (a VM or LXC on a host without Proxmox),
    ``parent_lacks_docker`` (a container on a host without Docker) and
    ``parent_changed`` (a node cannot move to another host).
    """

    code = "invalid_parent"


class SelfDependencyError(TopologyError):
    """A node cannot depend on itself."""

    code = "self_dependency"

    def __init__(self, name: str) -> None:
        """Name the node."""
        super().__init__(f"{name} cannot depend on itself", placeholders={"node": name})


class DuplicateDependencyError(TopologyError):
    """The dependency already exists."""

    code = "duplicate_dependency"

    def __init__(self, dependent: str, dependency: str) -> None:
        """Name both ends by their display names."""
        super().__init__(
            f"{dependent} already depends on {dependency}",
            placeholders={"dependent": dependent, "dependency": dependency},
        )


class DependencyCycleError(TopologyError):
    """The new dependency would close a cycle.

    ``path`` holds the node ids of the cycle, first and last being the same:
    for "NAS depends on sandbox" it is sandbox, Jellyfin, NAS, sandbox. The
    cycle may run through hosting edges too (a machine cannot depend on a
    container it hosts: the container needs the machine to run).
    """

    code = "dependency_cycle"

    def __init__(
        self,
        dependent: str,
        dependency: str,
        path: Sequence[str],
        names: Sequence[str],
    ) -> None:
        """Store the cycle's ids and render it with display names."""
        rendered = " → ".join(names)
        super().__init__(
            f"{dependent} cannot depend on {dependency}: that would create the"
            f" cycle {rendered}",
            placeholders={
                "dependent": dependent,
                "dependency": dependency,
                "path": rendered,
            },
        )
        self.path: list[str] = list(path)


class UnknownDependencyError(TopologyError):
    """The dependency to remove does not exist."""

    code = "unknown_dependency"

    def __init__(self, dependent: str, dependency: str) -> None:
        """Name both ends by their display names."""
        super().__init__(
            f"{dependent} does not depend on {dependency}",
            placeholders={"dependent": dependent, "dependency": dependency},
        )
