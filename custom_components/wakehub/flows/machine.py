"""The machine: its address and Wake-on-LAN, its SSH access, its capabilities, its services."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlowResult,
)
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_BROADCAST_ADDRESS,
    CONF_BROADCAST_PORT,
    CONF_DOCKER,
    CONF_FORCED_COMMAND,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_MAC,
    CONF_NAME,
    CONF_NODES,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROBE_PORT,
    CONF_PROXMOX,
    CONF_SHUTDOWN_COMMAND,
    CONF_SSH,
    CONF_USE_SUDO,
    CONF_USERNAME,
    CONF_VERIFY_AT_BOOT,
)
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.checks import async_probe, async_wake
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.host_key import (
    async_try_log_in,
    async_try_read_host_key,
)
from custom_components.wakehub.flows.records import (
    kind_label,
    node_record,
    ssh_auth,
)
from custom_components.wakehub.flows.schemas import machine_schema, ssh_schema
from custom_components.wakehub.flows.validators import (
    MACHINE_FIELDS,
    SSH_FIELDS,
    async_private_key,
    validate,
)

_LOGGER = logging.getLogger(__name__)


# How long "wake it now and continue" waits for the probe, and how often it
# probes meanwhile. A physical boot takes minutes.
WAKE_TIMEOUT: float = 300.0


WAKE_PROBE_INTERVAL: float = 2.0


class MachineSteps(FlowBase):
    """Add one physical machine: the steps from its address to its entry."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe the machine: name, host, MAC, Wake-on-LAN and probe port."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                clean = validate(user_input, MACHINE_FIELDS)
            except FlowError as err:
                errors.update(err.errors)
            else:
                await self.async_set_unique_id(clean[CONF_MAC])
                self._abort_if_unique_id_configured()
                self._data = {
                    key: clean[key]
                    for key in (
                        CONF_NAME,
                        CONF_HOST,
                        CONF_MAC,
                        CONF_BROADCAST_ADDRESS,
                        CONF_BROADCAST_PORT,
                        CONF_PROBE_PORT,
                    )
                }
                if await async_probe(
                    self._data[CONF_HOST], self._data[CONF_PROBE_PORT]
                ):
                    return await self.async_step_ssh()
                return await self.async_step_powered_off()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                machine_schema({}, with_identity=True), user_input
            ),
            errors=errors,
        )

    async def async_step_powered_off(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The machine does not answer: wake it now, or save it untested."""
        return self.async_show_menu(
            step_id="powered_off",
            menu_options=["wake", "save_untested"],
            description_placeholders={"name": self._data[CONF_NAME]},
        )

    async def async_step_wake_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The machine did not answer in time: the same two choices."""
        return self.async_show_menu(
            step_id="wake_failed",
            menu_options=["wake", "save_untested"],
            description_placeholders={
                "name": self._data[CONF_NAME],
                "timeout": str(round(WAKE_TIMEOUT)),
            },
        )

    async def _async_wake_and_wait(self) -> bool:
        """Send WoL, then probe until the machine answers or time runs out."""
        await async_wake(self._data)
        deadline = time.monotonic() + WAKE_TIMEOUT
        while time.monotonic() < deadline:
            if await async_probe(self._data[CONF_HOST], self._data[CONF_PROBE_PORT]):
                return True
            await asyncio.sleep(WAKE_PROBE_INTERVAL)
        return False

    async def async_step_wake(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Wake the machine and show progress until it answers."""
        if self._wake_task is None:
            self._wake_task = self.hass.async_create_task(
                self._async_wake_and_wait(), eager_start=False
            )
        if not self._wake_task.done():
            return self.async_show_progress(
                step_id="wake",
                progress_action="wake",
                description_placeholders={"name": self._data[CONF_NAME]},
                progress_task=self._wake_task,
            )
        task, self._wake_task = self._wake_task, None
        try:
            awake = task.result()
        except Exception:  # WoL could not be sent: same as a timeout
            _LOGGER.debug("Wake-on-LAN failed", exc_info=True)
            awake = False
        return self.async_show_progress_done(
            next_step_id="ssh" if awake else "wake_failed"
        )

    async def async_step_save_untested(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Save without testing: the SSH fields are asked, not tested."""
        self._untested = True
        return await self.async_step_ssh()

    async def async_step_ssh(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """SSH credentials and the shutdown command."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                ssh = await self._async_ssh_input(user_input)
                if self._untested:
                    self._data[CONF_SSH] = {**ssh, CONF_HOST_KEY: None}
                    self._data[CONF_VERIFY_AT_BOOT] = True
                    return self._async_finish()
                key = await async_try_read_host_key(
                    self._data[CONF_HOST], ssh[CONF_PORT]
                )
            except FlowError as err:
                errors.update(err.errors)
            else:
                self._pending_ssh = ssh
                self._pending_host_key = key.public_key
                self._pending_fingerprint = key.fingerprint
                return await self.async_step_ssh_host_key()
        return self.async_show_form(
            step_id="ssh",
            data_schema=self.add_suggested_values_to_schema(
                ssh_schema(self._pending_ssh), user_input
            ),
            errors=errors,
            description_placeholders={"host": self._data[CONF_HOST]},
        )

    async def _async_ssh_input(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """The SSH form's fields, each through its validator, and a secret."""
        clean = validate(user_input, SSH_FIELDS)
        await async_private_key(
            self.hass, user_input.get(CONF_PRIVATE_KEY), user_input.get(CONF_PASSPHRASE)
        )
        ssh = {
            CONF_PORT: clean[CONF_PORT],
            CONF_USERNAME: clean[CONF_USERNAME],
            **ssh_auth(user_input),
            CONF_SHUTDOWN_COMMAND: user_input[CONF_SHUTDOWN_COMMAND],
            CONF_USE_SUDO: user_input[CONF_USE_SUDO],
            CONF_FORCED_COMMAND: user_input[CONF_FORCED_COMMAND],
        }
        if CONF_PASSWORD not in ssh and CONF_PRIVATE_KEY not in ssh:
            raise FlowError("auth_required")
        return ssh

    async def async_step_ssh_host_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the host key fingerprint; on accept, pin it and log in."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                ssh = await async_try_log_in(
                    self._data[CONF_HOST], self._pending_ssh, self._pending_host_key
                )
            except FlowError as err:
                errors.update(err.errors)
                return self.async_show_form(
                    step_id="ssh",
                    data_schema=ssh_schema(self._pending_ssh),
                    errors=errors,
                    description_placeholders={"host": self._data[CONF_HOST]},
                )
            self._data[CONF_SSH] = ssh
            return await self.async_step_capabilities()
        return self.async_show_form(
            step_id="ssh_host_key",
            data_schema=vol.Schema({}),
            description_placeholders={
                "host": self._data[CONF_HOST],
                "fingerprint": self._pending_fingerprint,
            },
        )

    async def async_step_capabilities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Proxmox VE API, a Docker API, both, or neither.

        When reconfiguring, a configured capability can be replaced (its step
        is offered again) or removed.
        """
        options: list[str] = []
        reconfiguring = self.source == SOURCE_RECONFIGURE
        for step, key in (("proxmox", CONF_PROXMOX), ("docker", CONF_DOCKER)):
            if key not in self._data:
                options.append(step)
            elif reconfiguring:
                options.extend((step, f"remove_{step}"))
        return self.async_show_menu(
            step_id="capabilities",
            menu_options=[*options, "finish"],
            description_placeholders={"name": self._data[CONF_NAME]},
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No more capabilities: pick services, or create (update) the entry."""
        if self._discovered and self.source != SOURCE_RECONFIGURE:
            return await self.async_step_services()
        return self._async_finish()

    async def async_step_services(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the discovered VMs, LXCs and containers to manage."""
        if user_input is not None:
            nodes = {
                node_id: node_record(*self._discovered[node_id])
                for node_id in user_input.get(CONF_NODES, [])
            }
            return self._async_finish(nodes=nodes)
        options = [
            SelectOptionDict(value=node_id, label=kind_label(child))
            for node_id, (child, _parent) in sorted(
                self._discovered.items(), key=lambda item: item[1][0].name.lower()
            )
        ]
        return self.async_show_form(
            step_id="services",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_NODES, default=[]): SelectSelector(
                        SelectSelectorConfig(options=options, multiple=True)
                    )
                }
            ),
            description_placeholders={"count": str(len(options))},
        )
