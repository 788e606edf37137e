"""Sensors of WakeHub: each node's status, and diagnostics from the same polls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, Platform, UnitOfTime
from homeassistant.helpers import entity_registry as er

from .cascade_failure import failed_channel
from .const import (
    CONF_PINNED,
    CONF_URL,
    DOMAIN,
)
from .core.model import NodeKind, PowerState
from .entity import WakeHubEntity, node_settings
from .hub import HUB_KEY
from .idle import idle_sensors
from .service_device import CASCADE_SENSOR_UNIQUE_ID, SERVICE_DEVICE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from .coordinator import WakeHubCoordinator
    from .hub import WakeHubHub
    from .models import TreeNode, WakeHubConfigEntry
    from .orchestrator import Cascade

# Every sensor reads the coordinator's data: no update of its own.
PARALLEL_UPDATES = 0

STATUS_OPTIONS = [
    PowerState.ON.value,
    PowerState.OFF.value,
    PowerState.STARTING.value,
    PowerState.STOPPING.value,
    PowerState.ERROR.value,
]
HEALTH_OPTIONS = ["healthy", "unhealthy", "starting", "none"]


@dataclass(frozen=True, kw_only=True)
class WakeHubSensorEntityDescription(SensorEntityDescription):
    """Describes a WakeHub sensor."""

    value_fn: Callable[[WakeHubCoordinator, TreeNode], StateType]
    exists_fn: Callable[[WakeHubCoordinator, TreeNode], bool] = lambda _c, _n: True
    attributes_fn: Callable[[WakeHubCoordinator, TreeNode], dict[str, Any] | None] = (
        lambda _c, _n: None
    )
    follows_node: bool = True
    """Unavailable when the node's state is unknown (its host's API fails)."""


def _details(coordinator: WakeHubCoordinator, node: TreeNode) -> Mapping[str, Any]:
    """The figures the last poll returned for a node."""
    return coordinator.data.nodes[node.id].details


def _status(coordinator: WakeHubCoordinator, node: TreeNode) -> str | None:
    """The node's state, including a running cascade's overlay."""
    state = coordinator.node_state(node.id)
    return state.value if state.value in STATUS_OPTIONS else None


def _status_attributes(
    coordinator: WakeHubCoordinator, node: TreeNode
) -> dict[str, Any] | None:
    """What the dashboard card shows of a node.

    Always the node's id, kind, pin and service URL; the cascade step and
    error while a cascade says so, as codes and placeholders that the card and
    the translations render in the user's language (``step``: ``number``,
    ``total``, ``detail``, ``placeholders``; ``error_code`` and
    ``error_placeholders``, with ``error_message`` the API's own words); the
    pending shutdown proposal, if any.
    """
    settings = node_settings(coordinator, node)
    attributes: dict[str, Any] = {
        "node_id": node.id,
        "kind": node.kind.value,
        "pinned": bool(settings.get(CONF_PINNED)),
        "url": settings.get(CONF_URL) or None,
    }
    overlay = coordinator.view(node.id).overlay
    if (activity := overlay.activity) is not None:
        attributes["step"] = overlay.step
        if activity.code is not None:
            attributes["error_code"] = activity.code
            attributes["error_message"] = activity.message
            attributes["error_placeholders"] = dict(activity.placeholders or {})
    if overlay.proposal_id is not None and overlay.proposal_expires_at is not None:
        attributes["proposal_id"] = overlay.proposal_id
        attributes["proposal_expires_at"] = overlay.proposal_expires_at.isoformat()
    return attributes


def _cpu(coordinator: WakeHubCoordinator, node: TreeNode) -> float | None:
    """A guest's CPU load, in percent of its cores."""
    cpu = _details(coordinator, node).get("cpu")
    return None if cpu is None else round(float(cpu) * 100, 1)


def _memory(coordinator: WakeHubCoordinator, node: TreeNode) -> float | None:
    """A guest's memory use, in percent of its allocation."""
    details = _details(coordinator, node)
    mem, maxmem = details.get("mem"), details.get("maxmem")
    if mem is None or not maxmem:
        return None
    return round(float(mem) / float(maxmem) * 100, 1)


def _uptime(coordinator: WakeHubCoordinator, node: TreeNode) -> int | None:
    """How long a guest has been running, in seconds."""
    uptime = _details(coordinator, node).get("uptime")
    return None if uptime is None else int(uptime)


def _image(coordinator: WakeHubCoordinator, node: TreeNode) -> str | None:
    """The image a container runs."""
    image = _details(coordinator, node).get("image")
    return None if image is None else str(image)


def _health(coordinator: WakeHubCoordinator, node: TreeNode) -> str | None:
    """A container's health check result; ``none`` without a health check."""
    if coordinator.node_state(node.id) is not PowerState.ON:
        return None
    health = _details(coordinator, node).get("health") or "none"
    return health if health in HEALTH_OPTIONS else None


def _is_guest(_coordinator: WakeHubCoordinator, node: TreeNode) -> bool:
    return node.kind in (NodeKind.VM, NodeKind.LXC)


def _is_container(_coordinator: WakeHubCoordinator, node: TreeNode) -> bool:
    return node.kind is NodeKind.CONTAINER


def _is_host(coordinator: WakeHubCoordinator, node: TreeNode) -> bool:
    return node.id in coordinator.hosts


def _to_configure(coordinator: WakeHubCoordinator, node: TreeNode) -> int:
    """How many children of a host are discovered but not configured."""
    return len(coordinator.data.discovered.get(node.id, ()))


def _to_configure_attributes(
    coordinator: WakeHubCoordinator, node: TreeNode
) -> dict[str, Any]:
    """The discovered children of a host, with what the API knows of them."""
    return {
        "services": [
            child.as_attribute()
            for child in coordinator.data.discovered.get(node.id, ())
        ]
    }


SENSORS: tuple[WakeHubSensorEntityDescription, ...] = (
    WakeHubSensorEntityDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=STATUS_OPTIONS,
        value_fn=_status,
        attributes_fn=_status_attributes,
    ),
    WakeHubSensorEntityDescription(
        key="cpu",
        translation_key="cpu",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=_is_guest,
        value_fn=_cpu,
    ),
    WakeHubSensorEntityDescription(
        key="memory",
        translation_key="memory",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=_is_guest,
        value_fn=_memory,
    ),
    WakeHubSensorEntityDescription(
        key="uptime",
        translation_key="uptime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.HOURS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=_is_guest,
        value_fn=_uptime,
    ),
    WakeHubSensorEntityDescription(
        key="image",
        translation_key="image",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=_is_container,
        value_fn=_image,
    ),
    WakeHubSensorEntityDescription(
        key="health",
        translation_key="health",
        device_class=SensorDeviceClass.ENUM,
        options=HEALTH_OPTIONS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=_is_container,
        value_fn=_health,
    ),
    WakeHubSensorEntityDescription(
        key="services_to_configure",
        translation_key="services_to_configure",
        entity_category=EntityCategory.DIAGNOSTIC,
        exists_fn=_is_host,
        value_fn=_to_configure,
        attributes_fn=_to_configure_attributes,
        follows_node=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WakeHubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every node of the entry's tree.

    The domain-wide cascade sensor is added through this platform too, when
    the entry is the service device's home (see :mod:`.service_device`).
    """
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        WakeHubSensorEntity(coordinator, node, description)
        for node in coordinator.tree.values()
        for description in SENSORS
        if description.exists_fn(coordinator, node)
    )
    hub = hass.data[HUB_KEY]
    async_add_entities(idle_sensors(hub, coordinator))
    # The cascade sensor comes through the platform of its home entry.
    entry.async_on_unload(
        hub.home.async_register_platform(
            entry.entry_id, lambda: async_add_entities([CascadeSensor(hub)])
        )
    )


class WakeHubSensorEntity(WakeHubEntity, SensorEntity):
    """A sensor of one node."""

    entity_description: WakeHubSensorEntityDescription
    _unrecorded_attributes = frozenset(
        {"services", "step", "proposal_id", "proposal_expires_at"}
    )

    @property
    def available(self) -> bool:
        """Follow the node, except for what stays known while it is off."""
        if self.entity_description.follows_node:
            return super().available
        return self.coordinator.last_update_success

    @property
    def native_value(self) -> StateType:
        """The sensor's value from the last poll."""
        return self.entity_description.value_fn(self.coordinator, self.node)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Extra facts: the cascade step, or the discovered children."""
        return self.entity_description.attributes_fn(self.coordinator, self.node)


CASCADE_STATES: Final = ["idle", "running"]


class CascadeSensor(SensorEntity):
    """Idle or running, with the current (or last) cascade in its attributes.

    The attributes give the target, the action, the status and every step
    with its own status (pending, running, done, skipped, failed, cancelled),
    for dashboards, and ``nodes``: every node as the card lists it (see
    :func:`node_catalog`), since this sensor stays available when
    a node's own entities do not.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "cascade"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = CASCADE_STATES
    _attr_unique_id = CASCADE_SENSOR_UNIQUE_ID
    _attr_device_info = SERVICE_DEVICE
    _unrecorded_attributes = frozenset({"steps", "queued", "nodes"})

    def __init__(self, hub: WakeHubHub) -> None:
        """Follow ``hub``'s cascades."""
        self._hub = hub

    async def async_added_to_hass(self) -> None:
        """Update on every cascade event."""
        self.async_on_remove(self._hub.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> str:
        """``running`` while a cascade runs, else ``idle``."""
        orchestrator = self._hub.orchestrator
        running = orchestrator.running
        busy = (running is not None and not running.done) or orchestrator.queued
        return "running" if busy else "idle"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The running (or last) cascade, its steps, and what is queued."""
        orchestrator = self._hub.orchestrator
        cascade = orchestrator.running or self._hub.last_cascade
        attributes: dict[str, Any] = {
            "target": None,
            "target_name": None,
            "action": None,
            "status": None,
            "steps": [],
            "queued": [c.target_name for c in orchestrator.queued],
            "nodes": node_catalog(self._hub),
        }
        if cascade is not None:
            data = cascade.as_dict()
            attributes.update(
                {
                    "cascade_id": data["id"],
                    "target": data["target"],
                    "target_name": data["target_name"],
                    "action": data["action"],
                    "status": data["status"],
                    "current_step": data["current_step"],
                    "steps": [
                        {
                            "node": step["node"],
                            "name": step["name"],
                            "action": step["action"],
                            "status": step["status"],
                            "detail": step["detail_key"],
                            "placeholders": step["detail_placeholders"],
                        }
                        for step in data["steps"]
                    ],
                    "error": _error_of(self._hub, cascade, data["error"]),
                    "cancel_code": data["cancel_code"],
                    "cancel_placeholders": data["cancel_placeholders"],
                }
            )
        return attributes


def _error_of(
    hub: WakeHubHub, cascade: Cascade, error: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The cascade's error, with ``api``: the channel that answered (its code).

    The card says "Proxmox on Machine2 refused..." from it: for a machine's
    start, what failed is the API it waited for, not the magic packet.
    """
    if error is None:
        return None
    step = error.get("step")
    channel, _host = failed_channel(
        hub,
        cascade,
        error.get("node") or cascade.target,
        step + 1 if step is not None else None,
    )
    return {**error, "api": str(channel) if channel is not None else None}


def node_catalog(hub: WakeHubHub) -> list[dict[str, Any]]:
    """Every node of the loaded entries, as the dashboard card lists it.

    Each item holds what the status sensor's attributes say of the node
    (``node_id``, ``kind``, ``pinned``, ``url``), its ``name``, and
    ``status_entity``, the entity id of its status sensor (``None`` before
    it is registered), ``error_code``/``error_message`` while the node is in
    error, ``idle_entity``, its idle-time sensor, when it has an
    inactivity rule (:mod:`.idle`), and for the graph card its ``parent``
    (the node hosting it, ``None`` for a machine) and ``dependencies`` (the
    nodes it needs, sorted). A sensor that is unavailable loses its attributes in Home
    Assistant's state machine; the card still finds its node (and its error)
    here, and shows it unavailable.
    """
    registry = er.async_get(hub.hass)
    topology = hub.topology
    catalog: list[dict[str, Any]] = []
    for node_id, coordinator in hub.loaded_nodes.items():
        tree_node = coordinator.tree.get(node_id)
        if tree_node is None:  # pragma: no cover - rebuilt from the tree
            continue
        settings = node_settings(coordinator, tree_node)
        item: dict[str, Any] = {
            "node_id": node_id,
            "kind": tree_node.kind.value,
            "pinned": bool(settings.get(CONF_PINNED)),
            "url": settings.get(CONF_URL) or None,
            "name": tree_node.name,
            "status_entity": registry.async_get_entity_id(
                Platform.SENSOR, DOMAIN, f"{node_id}-status"
            ),
            "parent": tree_node.parent,
            "dependencies": sorted(topology.dependencies(node_id))
            if node_id in topology
            else [],
        }
        activity = coordinator.view(node_id).overlay.activity
        if activity is not None and activity.state is PowerState.ERROR:
            item["error_code"] = activity.code
            item["error_message"] = activity.message
            item["error_placeholders"] = dict(activity.placeholders or {})
        if idle := registry.async_get_entity_id(
            Platform.SENSOR, DOMAIN, f"{node_id}-idle"
        ):
            item["idle_entity"] = idle
        catalog.append(item)
    return catalog
