"""Reading one machine's hosts: their listings, and the node states they give.

The coordinator (:mod:`.coordinator`) decides when to poll; this module reads
each host's children in one request (:class:`HostReads`) and turns the
listings into each child's state (:func:`child_state`, :func:`migrated`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeassistant.exceptions import ConfigEntryAuthFailed

from .channels.errors import (
    AuthenticationError,
    ChannelError,
    HostKeyMismatchError,
    TlsVerificationError,
)
from .channels.proxmox import ProxmoxHost
from .const import CONF_CA, CONF_FINGERPRINT, CONF_PROXMOX, DOMAIN
from .core.model import NodeKind, PowerState
from .known_children import child_power
from .models import NodeData

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .channels.base import ChildInfo, HostApi
    from .models import TreeNode, WakeHubConfigEntry

_LOGGER = logging.getLogger(__package__)

type Listings = Mapping[str, dict[str, ChildInfo] | None]
"""Each host's children by key, or ``None`` when its API failed."""


class HostReads:
    """Read hosts' children; remember which APIs fail, to log each change once."""

    def __init__(
        self, hass: HomeAssistant, entry: WakeHubConfigEntry, machine_id: str
    ) -> None:
        """Read the hosts of ``entry``'s machine, ``machine_id``."""
        self.hass = hass
        self.entry = entry
        self.machine_id = machine_id
        self.failing: dict[str, str] = {}
        """The error code of each host whose API fails, by host id."""

    def machine_off(self, name: str) -> None:
        """The machine is off: its API failures no longer matter."""
        if self.failing:
            _LOGGER.debug("%s is off; its API failures no longer matter", name)
            self.failing.clear()

    async def async_read(
        self, host_id: str, name: str, api: HostApi
    ) -> dict[str, ChildInfo] | None:
        """Read one host's children in one request; ``None`` when its API fails.

        A refused login raises ``ConfigEntryAuthFailed`` (Home Assistant then
        starts a reauthentication flow). Any other failure makes the host's
        children unavailable, and is logged once when it starts and once when
        it ends. When the machine's Docker API through SSH meets another host
        key than the pinned one, a reauthentication flow also starts: there
        the user reviews the new key and may pin it.
        """
        try:
            children = await api.read_states()
        except AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="reauth_required",
                translation_placeholders={"node": name, "message": err.message},
            ) from err
        except ChannelError as err:
            if host_id == self.machine_id and (
                isinstance(err, HostKeyMismatchError)
                or (
                    isinstance(err, TlsVerificationError)
                    and err.certificate_refused
                    and self._pins_proxmox(api)
                )
            ):
                # A changed SSH host key, or a Proxmox certificate its pin
                # refuses: the reauthentication shows both and re-pins.
                self.entry.async_start_reauth(self.hass)
            if host_id not in self.failing:
                _LOGGER.warning(
                    "The API of %s is unavailable (%s): %s", name, err.code, err.message
                )
            self.failing[host_id] = err.code
            return None
        if self.failing.pop(host_id, None) is not None:
            _LOGGER.info("The API of %s is available again", name)
        return children

    def _pins_proxmox(self, api: HostApi) -> bool:
        """Whether ``api`` is the machine's Proxmox API, its CA or certificate pinned."""
        proxmox = self.entry.data.get(CONF_PROXMOX) or {}
        return isinstance(api, ProxmoxHost) and bool(
            proxmox.get(CONF_CA) or proxmox.get(CONF_FINGERPRINT)
        )


def child_state(
    node: TreeNode,
    states: Mapping[str, PowerState],
    read: Listings,
    missing: set[str],
) -> NodeData:
    """Work out one child's state from its host's state and listing.

    A child that its host's listing lacks is added to ``missing``.
    """
    assert node.parent is not None
    assert node.key is not None
    host_state = states.get(node.parent, PowerState.UNKNOWN)
    if host_state is PowerState.OFF:
        return NodeData(state=PowerState.OFF)
    children = read.get(node.parent)
    if host_state is not PowerState.ON or children is None:
        return NodeData(state=PowerState.UNKNOWN)
    if (info := children.get(node.key)) is None:
        missing.add(node.id)
        return NodeData(state=PowerState.UNKNOWN)
    return NodeData(
        state=child_power(info),
        status=info.status,
        details=dict(info.details),
    )


def migrated(
    tree: Mapping[str, TreeNode], proxmox: ProxmoxHost | None, missing: set[str]
) -> dict[str, str]:
    """The missing guests of this node that another cluster node now runs."""
    if proxmox is None:
        return {}
    found: dict[str, str] = {}
    for node_id in missing:
        node = tree[node_id]
        if (
            node.kind in (NodeKind.VM, NodeKind.LXC)
            and node.key is not None
            and (target := proxmox.elsewhere.get(node.key)) is not None
        ):
            found[node_id] = target
    return found
