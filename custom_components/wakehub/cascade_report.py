"""The orchestrator's events, told to Home Assistant.

:class:`CascadeReporter` receives every :class:`~.orchestrator.OrchestratorEvent`
and turns it into what Home Assistant shows:

- each node's activity (``starting``/``stopping``/``error`` with the current
  step as a code and its placeholders, ``{"number": 2, "total": 3, "detail":
  "waiting_apis", "placeholders": {"node": "Machine2", "apis": "proxmox"}}``,
  which the card and the translations render), pushed to the node's
  coordinator, which gives it to the entities with the node's view;
- bus events ``wakehub_cascade_started``/``_step``/``_completed``/``_failed``
  (their data: docs/events.md);
- a persistent notification, in the user's language, when a cascade fails,
  and a reauthentication when it failed on a machine's changed host key;
- the restart marker (:mod:`.restart_marker`) at each step;
- the re-evaluation's decisions, to the shutdown proposals.
"""

from __future__ import annotations

from dataclasses import replace
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback

from .cascade_failure import api_of_step, failure_texts
from .const import (
    EVENT_CASCADE_COMPLETED,
    EVENT_CASCADE_FAILED,
    EVENT_CASCADE_STARTED,
    EVENT_CASCADE_STEP,
)
from .core.model import PowerState
from .core.planner import Action
from .notifications import async_notify, async_translate, cascade_notification_id
from .orchestrator import (
    Cascade,
    CascadeEnded,
    CascadeStarted,
    CascadeStatus,
    NodeActivityChanged,
    NodeReached,
    OrchestratorEvent,
    Reevaluated,
    StepChanged,
    StepEventKind,
    StepStatus,
)
from .proposals import async_handle_reevaluation
from .restart_marker import Marker, marker_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .coordinator import WakeHubCoordinator
    from .hub import WakeHubHub

_LOGGER = logging.getLogger(__package__)


@callback
def _show_reached(
    coordinator: WakeHubCoordinator, node_id: str, state: PowerState
) -> None:
    """A step saw the node reach ``state``: its entities show it now.

    The next poll confirms it; until then they need not show the poll from
    before the step.
    """
    data = coordinator.data
    if data is None or (polled := data.nodes.get(node_id)) is None:
        return
    if polled.state != state:
        nodes = {**data.nodes, node_id: replace(polled, state=state)}
        coordinator.async_set_updated_data(replace(data, nodes=nodes))


def _event_base(cascade: Cascade) -> dict[str, Any]:
    return {
        "cascade_id": cascade.id,
        "action": str(cascade.action),
        "target": cascade.target,
        "target_name": cascade.target_name,
        "origin": str(cascade.origin),
        "status": str(cascade.status),
    }


class CascadeReporter:
    """Tells Home Assistant what the hub's orchestrator does."""

    def __init__(self, hub: WakeHubHub) -> None:
        """Report the cascades of ``hub``'s orchestrator."""
        self._hub = hub
        self.hass = hub.hass
        self._step_text: dict[str, dict[str, Any]] = {}
        self.stopping = False
        self.last_cascade: Cascade | None = None

    @callback
    def forget(self, node_ids: Mapping[str, Any]) -> None:
        """Drop the step texts of nodes that left (their entry unloaded)."""
        for node_id in node_ids:
            self._step_text.pop(node_id, None)

    @callback
    def on_event(self, event: OrchestratorEvent) -> None:
        """Report one orchestrator event."""
        if isinstance(event, NodeActivityChanged):
            self._push_activity(event.node)
            return
        if isinstance(event, StepChanged):
            self._on_step(event)
        elif isinstance(event, NodeReached):
            if coordinator := self._hub.coordinator_of(event.node):
                _show_reached(coordinator, event.node, event.state)
        elif isinstance(event, CascadeStarted):
            self._on_started(event.cascade)
            self._hub.check_withdrawals()
        elif isinstance(event, CascadeEnded):
            self._on_ended(event.cascade)
        elif isinstance(event, Reevaluated):
            self._on_reevaluated(event)
        self._hub.notify_listeners()

    @callback
    def _push_activity(self, node_id: str) -> None:
        """Give the node's coordinator the orchestrator's activity and step text."""
        activity = self._hub.orchestrator.node_activity(node_id)
        if activity is None:
            self._step_text.pop(node_id, None)
        if (coordinator := self._hub.coordinator_of(node_id)) is not None:
            coordinator.async_set_overlay(
                node_id,
                activity=activity,
                step=self._step_text.get(node_id),
                reached=None if activity is not None else self._reached(node_id),
            )

    def _reached(self, node_id: str) -> PowerState | None:
        """Where the running cascade's finished step left the node, if it did."""
        cascade = self._hub.orchestrator.running
        for cstep in reversed(cascade.steps if cascade is not None else ()):
            if cstep.node != node_id:
                continue
            if cstep.status not in (StepStatus.DONE, StepStatus.SKIPPED):
                return None
            started = cstep.step.action is Action.START
            return PowerState.ON if started else PowerState.OFF
        return None

    @callback
    def _on_started(self, cascade: Cascade) -> None:
        self.last_cascade = cascade
        for coordinator in self._hub.coordinators_of(cascade.nodes):
            coordinator.async_update_listeners()
        self._hub.marker.save(marker_of(cascade))
        self.hass.bus.async_fire(
            EVENT_CASCADE_STARTED,
            {
                **_event_base(cascade),
                "steps": [
                    {
                        "node": cstep.node,
                        "name": cstep.name,
                        "action": str(cstep.step.action),
                        "channel": str(cstep.step.channel),
                    }
                    for cstep in cascade.steps
                ],
            },
        )

    @callback
    def _on_step(self, event: StepChanged) -> None:
        cascade, cstep = event.cascade, event.step
        if event.info is not None:
            self._step_text[cstep.node] = {
                "number": event.index + 1,
                "total": event.total,
                "detail": event.info.key,
                "placeholders": dict(event.info.placeholders),
            }
            self._push_activity(cstep.node)
        if event.kind is StepEventKind.STARTED:
            self._hub.marker.save(marker_of(cascade, event.index))
        if event.kind is StepEventKind.WAITING:
            return
        if event.reached is not None and (
            coordinator := self._hub.coordinator_of(cstep.node)
        ):
            _show_reached(coordinator, cstep.node, event.reached)
        self.hass.bus.async_fire(
            EVENT_CASCADE_STEP,
            {
                **_event_base(cascade),
                "node": cstep.node,
                "name": cstep.name,
                "step": event.index + 1,
                "total": event.total,
                "status": str(event.kind),
                "detail": event.detail,
                "detail_key": event.info.key if event.info else None,
                "detail_placeholders": dict(event.info.placeholders)
                if event.info
                else None,
            },
        )

    @callback
    def _on_ended(self, cascade: Cascade) -> None:
        self.last_cascade = cascade
        # A last refresh of every tree the cascade touched: the entities show
        # where it left the nodes without waiting for the next poll.
        for coordinator in self._hub.coordinators_of(cascade.nodes):
            coordinator.async_update_listeners()
            if not self.stopping:
                self._hub.driver.refresh(coordinator)
        if self.stopping and cascade.status is CascadeStatus.INTERRUPTED:
            return  # Reported at the next start, from the stored marker.
        self._hub.marker.cascade_ended(cascade.id)
        if cascade.status in (CascadeStatus.COMPLETED, CascadeStatus.CANCELLED):
            self.hass.bus.async_fire(
                EVENT_CASCADE_COMPLETED,
                {
                    **_event_base(cascade),
                    "cancel_reason": cascade.cancel_reason,
                    "cancel_code": cascade.cancel_code,
                    "cancel_placeholders": dict(cascade.cancel_placeholders),
                },
            )
            return
        error = cascade.error
        step = error.step if error is not None else None
        node = error.node if error is not None and error.node else cascade.target
        data = {
            **_event_base(cascade),
            "node": node,
            "name": self._hub.name_of(node),
            "step": step + 1 if step is not None else None,
            "total": len(cascade.steps),
            "error_code": error.code if error is not None else None,
            "error_message": error.message if error is not None else None,
            "error_placeholders": dict(error.placeholders) if error is not None else {},
            # What answered, and where (Proxmox on Machine2): the logbook and
            # the notification say it in the user's language.
            **api_of_step(
                self._hub, cascade, node, step + 1 if step is not None else None
            ),
        }
        self.hass.bus.async_fire(EVENT_CASCADE_FAILED, data)
        texts, data = failure_texts(
            self._hub, cascade, data, self.async_review_host_key
        )
        self.hass.async_create_task(
            self._async_notify_failure(cascade.id, texts, data),
            eager_start=True,
        )

    @callback
    def clear_reached_errors(self, coordinator: WakeHubCoordinator) -> None:
        """A node in error that reached its failed step's goal is no longer in error.

        A start that failed on Jellyfin, then Jellyfin on (started by hand or
        by a retry that WakeHub did not run): the error is over. The goal is
        the action of the cascade that failed.
        """
        cascade = self.last_cascade
        for node_id, data in coordinator.data.nodes.items():
            activity = self._hub.orchestrator.node_activity(node_id)
            if activity is None or activity.state is not PowerState.ERROR:
                continue
            if cascade is None or cascade.id != activity.cascade_id:
                continue
            goal = PowerState.ON if cascade.action is Action.START else PowerState.OFF
            if data.state is goal:
                self._hub.clear_error(node_id)

    @callback
    def async_review_host_key(self, node: str) -> str | None:
        """Start the reauth that reviews a machine's changed SSH host key.

        ``node`` failed on a host key: the machine itself (its shutdown) or a
        container of the machine's own Docker API through SSH. Returns the
        machine's entry title, or ``None`` when the key is not the machine's
        (a guest's Docker tunnel: its key is re-pinned in the node settings).
        """
        coordinator = self._hub.coordinator_of(node)
        if coordinator is None:
            return None
        machine = coordinator.machine_id
        if node != machine and coordinator.tree[node].parent != machine:
            return None
        entry = coordinator.config_entry
        entry.async_start_reauth(self.hass)
        return entry.title

    @callback
    def _on_reevaluated(self, event: Reevaluated) -> None:
        # Every node: a KEEP decision names the dependents and children
        # that keep the node on.
        names = {
            node_id: node.name for node_id, node in self._hub.topology.nodes.items()
        }
        self.hass.async_create_task(
            async_handle_reevaluation(self._hub.proposals, event.decisions, names),
            eager_start=True,
        )

    async def _async_notify_failure(
        self, cascade_id: str, texts: tuple[str, str], data: Mapping[str, Any]
    ) -> None:
        """A persistent notification; ``texts`` are its title and message keys."""
        placeholders = {
            "target": str(data["target_name"]),
            "node": str(data.get("name") or data["target_name"]),
            "step": str(data.get("step") or "?"),
            "total": str(data.get("total") or "?"),
            "code": str(data.get("error_code") or ""),
            "message": str(data.get("error_message") or ""),
            "machine": str(data.get("machine") or ""),
            "api": str(data.get("api") or ""),
            "host": str(data.get("host") or ""),
            "status": str(data.get("status") or ""),
            "reason": str(data.get("reason") or ""),
            "seconds": str(data.get("seconds") or ""),
        }
        if why := data.get("why"):
            # The explanation is a sentence of its own, in the same language.
            placeholders["why"] = await async_translate(
                self.hass, f"cascade_error_{why}", placeholders
            )
        await async_notify(
            self.hass, cascade_notification_id(cascade_id), texts, placeholders
        )

    async def async_report_interrupted(self, marker: Marker) -> None:
        """Report the cascade a restart interrupted (its stored marker)."""
        data = {
            "cascade_id": marker.get("id"),
            "action": marker.get("action"),
            "target": marker.get("target"),
            "target_name": marker.get("target_name"),
            "origin": marker.get("origin"),
            "status": str(CascadeStatus.INTERRUPTED),
            "node": marker.get("node"),
            "name": marker.get("name"),
            "step": marker.get("step"),
            "total": marker.get("total"),
            "error_code": "interrupted",
            "error_message": "Home Assistant restarted during the cascade",
        }
        _LOGGER.warning(
            "The cascade %s of %s was interrupted by a restart at step %s/%s",
            data["action"],
            data["target_name"],
            data["step"],
            data["total"],
        )
        self.hass.bus.async_fire(EVENT_CASCADE_FAILED, data)
        await self._async_notify_failure(
            str(marker.get("id")),
            ("cascade_interrupted_title", "cascade_interrupted"),
            data,
        )
