"""The settings of one node (the machine, a VM, an LXC or a container)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import network
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from custom_components.wakehub.channels.base import ChildInfo, ChildKind
from custom_components.wakehub.channels.errors import (
    ChannelError,
)
from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_CONFIRM_SHUTDOWN,
    CONF_DOCKER,
    CONF_EARLY_WAKE,
    CONF_EARLY_WAKE_STAGGER,
    CONF_FORCE_STOP,
    CONF_KEY,
    CONF_KIND,
    CONF_MAC,
    CONF_MACHINE,
    CONF_MODE,
    CONF_NAME,
    CONF_NODES,
    CONF_PINNED,
    CONF_PROBE_PORTS,
    CONF_READINESS,
    CONF_READINESS_PORTS,
    CONF_SETTLE_TIME,
    CONF_SHUTDOWN_TIMEOUT,
    CONF_START_TIMEOUT,
    CONF_STOP_TIMEOUT,
    CONF_URL,
    CONF_WOL_INTERFACE,
    DEFAULT_START_TIMEOUTS,
    DEFAULT_STOP_TIMEOUTS,
    DOCKER_MODES,
    READINESS_CHECKS,
    STAGGER_MAX,
)
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.options_base import MACHINE_NODE, OptionsBase
from custom_components.wakehub.flows.schemas import (
    BOOL,
    DOCKER_NONE,
    TEXT,
    URL,
    URL_EXAMPLE,
)
from custom_components.wakehub.flows.validators import (
    NODE_FIELDS,
    validate,
)
from custom_components.wakehub.ha_driver import url_port
from custom_components.wakehub.orchestrator.power import DEFAULT_SETTLE, Readiness

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from custom_components.wakehub.models import WakeHubRuntimeData


_AGENT_READ_TIMEOUT: Final = 5.0


async def _async_interface_options(hass: HomeAssistant) -> list[SelectOptionDict]:
    """Home Assistant's IPv4 addresses, to send Wake-on-LAN from one of them."""
    options: list[SelectOptionDict] = []
    for adapter in await network.async_get_adapters(hass):
        for ipv4 in adapter["ipv4"]:
            address = str(ipv4["address"])
            options.append(
                SelectOptionDict(value=address, label=f"{address} ({adapter['name']})")
            )
    return options


def _guest_settings(
    kind: str, node: dict[str, Any], user_input: dict[str, Any]
) -> dict[str, str]:
    """Store a guest's readiness and shutdown settings in ``node``; the errors.

    ``user_input`` went through the validators. The TCP check connects to the
    service URL's host, on the ports given or else the URL's own port; the
    guest agent is QEMU's only.
    """
    errors: dict[str, str] = {}
    readiness = Readiness(user_input[CONF_READINESS])
    host, url_default = url_port(node.get(CONF_URL))
    ports: tuple[int, ...] = tuple(user_input.get(CONF_READINESS_PORTS) or ())
    if readiness is Readiness.TCP:
        # A valid service URL is http(s): it always has a port.
        if host is None:
            errors[CONF_URL] = "readiness_needs_url"
        ports = ports or ((url_default,) if url_default is not None else ())
    if readiness is Readiness.AGENT and kind != ChildKind.VM:
        errors[CONF_READINESS] = "agent_needs_vm"
    node.update(
        {
            CONF_READINESS: readiness.value,
            CONF_READINESS_PORTS: list(ports),
            CONF_SETTLE_TIME: user_input[CONF_SETTLE_TIME],
            CONF_SHUTDOWN_TIMEOUT: user_input.get(CONF_SHUTDOWN_TIMEOUT),
            CONF_FORCE_STOP: user_input[CONF_FORCE_STOP],
        }
    )
    return errors


def _default_readiness(node: dict[str, Any], *, agent: bool) -> str:
    """The stored check, else the service URL's port, else the guest agent
    when it is enabled, else ``running``."""
    if stored := node.get(CONF_READINESS):
        return str(stored)
    _host, port = url_port(node.get(CONF_URL))
    if port is not None:
        return Readiness.TCP.value
    return (Readiness.AGENT if agent else Readiness.RUNNING).value


async def _agent_enabled(entry: ConfigEntry, node: dict[str, Any]) -> bool:
    """Whether Proxmox says the VM's QEMU guest agent is enabled.

    One live ``status/current`` read, only for a VM without a readiness
    check of its own; an entry not loaded, or an API that fails, says no.
    """
    loaded = entry.state is ConfigEntryState.LOADED
    runtime: WakeHubRuntimeData | None = entry.runtime_data if loaded else None
    proxmox = runtime.coordinator.channels.proxmox if runtime is not None else None
    if node.get(CONF_KIND) != ChildKind.VM or node.get(CONF_READINESS) or not proxmox:
        return False
    try:
        async with asyncio.timeout(_AGENT_READ_TIMEOUT):
            return (await proxmox.current(str(node[CONF_KEY]))).agent
    except (ChannelError, TimeoutError):
        return False


def _describe_child(child: ChildInfo) -> str:
    """What the API already knows about a child, for a form's description."""
    if child.kind is ChildKind.CONTAINER:
        facts = [f"image {child.details.get('image', '?')}"]
    else:
        maxcpu = child.details.get("maxcpu")
        maxmem = child.details.get("maxmem")
        facts = [
            f"VMID {child.key}",
            *([f"{maxcpu} vCPU"] if maxcpu else []),
            *([f"{int(maxmem) // 2**20} MiB"] if maxmem else []),
        ]
    facts.append(child.status)
    return ", ".join(facts)


def _identify_node(node_id: str, node: Mapping[str, Any], mac: str) -> str:
    """A node the API does not list now: the machine's MAC, a guest's VMID, a container's name.

    The description's placeholder is shown as is in every language, so it
    holds identifiers only, labelled with the names the user meets in the
    tools themselves (MAC, Proxmox's VMID, Docker), never an English word.
    """
    if node_id == MACHINE_NODE:
        return f"MAC {mac}"
    key = node_id.rsplit("/", 1)[-1]
    if node.get(CONF_KIND) == ChildKind.CONTAINER.value:
        return f"Docker {key}"
    return f"Proxmox VMID {key}"


class NodeSettingsSteps(OptionsBase):
    """One node's settings form."""

    async def async_step_node(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The settings of one node, pre-filled from the API and the options."""
        kind, node = self._node()
        # A machine's timeouts are entered in minutes, the others in seconds.
        scale = 60 if kind == MACHINE_NODE else 1
        guest = kind in (ChildKind.VM, ChildKind.LXC)
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, NODE_FIELDS)
            except FlowError as err:
                errors = err.errors
        if user_input is not None and not errors:
            node.update(
                {
                    CONF_CONFIRM_SHUTDOWN: clean[CONF_CONFIRM_SHUTDOWN],
                    CONF_PINNED: clean[CONF_PINNED],
                    CONF_URL: clean.get(CONF_URL),
                    CONF_START_TIMEOUT: clean[CONF_START_TIMEOUT] * scale,
                    CONF_STOP_TIMEOUT: clean[CONF_STOP_TIMEOUT] * scale,
                }
            )
            if kind == MACHINE_NODE:
                node[CONF_PROBE_PORTS] = clean.get(CONF_PROBE_PORTS) or []
                node[CONF_WOL_INTERFACE] = clean.get(CONF_WOL_INTERFACE)
                node[CONF_EARLY_WAKE] = bool(clean.get(CONF_EARLY_WAKE))
                node[CONF_EARLY_WAKE_STAGGER] = clean.get(CONF_EARLY_WAKE_STAGGER) or 0
                self._options[CONF_MACHINE] = node
                return self._async_save_validated(MACHINE_NODE)
            node[CONF_NAME] = clean[CONF_NAME]
            if guest:
                errors = _guest_settings(kind, node, clean)
        if user_input is not None and not errors:
            mode = user_input.get(CONF_DOCKER, DOCKER_NONE)
            if mode == DOCKER_NONE:
                node[CONF_DOCKER] = None
            self._options[CONF_NODES][self._node_id] = node
            if mode == DOCKER_NONE:
                return self._async_save_validated(self._node_id)
            self._docker_mode = mode
            return await self.async_step_node_docker()

        confirm = node.get(CONF_CONFIRM_SHUTDOWN)
        start = node.get(CONF_START_TIMEOUT) or DEFAULT_START_TIMEOUTS[kind]
        stop = node.get(CONF_STOP_TIMEOUT) or DEFAULT_STOP_TIMEOUTS[kind]
        fields: dict[Any, Any] = {}
        if kind != MACHINE_NODE:
            fields[vol.Required(CONF_NAME, default=node[CONF_NAME])] = TEXT
        unit_max = 120 if scale == 60 else 3600
        timeout = NumberSelector(
            NumberSelectorConfig(
                min=1,
                max=unit_max,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="min" if scale == 60 else "s",
            )
        )
        fields.update(
            {
                vol.Required(
                    CONF_CONFIRM_SHUTDOWN,
                    default=(kind == MACHINE_NODE) if confirm is None else confirm,
                ): BOOL,
                vol.Required(CONF_PINNED, default=bool(node.get(CONF_PINNED))): BOOL,
                vol.Optional(
                    CONF_URL, description={"suggested_value": node.get(CONF_URL)}
                ): URL,
                vol.Required(CONF_START_TIMEOUT, default=start // scale): timeout,
                vol.Required(CONF_STOP_TIMEOUT, default=stop // scale): timeout,
            }
        )
        if kind == MACHINE_NODE:
            probe_ports = node.get(CONF_PROBE_PORTS) or []
            fields.update(
                {
                    vol.Optional(
                        CONF_PROBE_PORTS,
                        description={
                            "suggested_value": ", ".join(map(str, probe_ports)) or None
                        },
                    ): TEXT,
                    vol.Optional(
                        CONF_WOL_INTERFACE,
                        description={"suggested_value": node.get(CONF_WOL_INTERFACE)},
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=await _async_interface_options(self.hass),
                            custom_value=True,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Required(
                        CONF_EARLY_WAKE, default=bool(node.get(CONF_EARLY_WAKE))
                    ): BOOL,
                    vol.Required(
                        CONF_EARLY_WAKE_STAGGER,
                        default=node.get(CONF_EARLY_WAKE_STAGGER) or 0,
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=0,
                            max=STAGGER_MAX,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                }
            )
        if guest:
            ports = node.get(CONF_READINESS_PORTS) or []
            if not ports and (url_default := url_port(node.get(CONF_URL))[1]):
                ports = [url_default]
            shutdown = node.get(CONF_SHUTDOWN_TIMEOUT)
            fields.update(
                {
                    vol.Required(
                        CONF_READINESS,
                        default=_default_readiness(
                            node, agent=await _agent_enabled(self.config_entry, node)
                        ),
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=[*READINESS_CHECKS],
                            translation_key=CONF_READINESS,
                        )
                    ),
                    vol.Optional(
                        CONF_READINESS_PORTS,
                        description={
                            "suggested_value": ", ".join(str(p) for p in ports)
                        },
                    ): TEXT,
                    vol.Required(
                        CONF_SETTLE_TIME,
                        default=node.get(CONF_SETTLE_TIME) or int(DEFAULT_SETTLE),
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=0,
                            max=unit_max,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    vol.Optional(
                        CONF_SHUTDOWN_TIMEOUT,
                        description={"suggested_value": shutdown},
                    ): timeout,
                    vol.Required(
                        CONF_FORCE_STOP, default=bool(node.get(CONF_FORCE_STOP))
                    ): BOOL,
                }
            )
            docker = node.get(CONF_DOCKER) or {}
            fields[
                vol.Required(CONF_DOCKER, default=docker.get(CONF_MODE, DOCKER_NONE))
            ] = SelectSelector(
                SelectSelectorConfig(
                    options=[DOCKER_NONE, *DOCKER_MODES],
                    translation_key=CONF_DOCKER,
                )
            )
        assert self._discovered is not None
        found = self._discovered.get(self._node_id)
        schema = vol.Schema(fields)
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(
            step_id="node",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "name": node.get(CONF_NAME, self.config_entry.title),
                "machine": self.config_entry.title,
                # What the API reports, else what identifies the node.
                "details": (
                    _describe_child(found[0])
                    if found
                    else _identify_node(
                        self._node_id, node, self.config_entry.data[CONF_MAC]
                    )
                ),
                "url_example": URL_EXAMPLE,
            },
        )
