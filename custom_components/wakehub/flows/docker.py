"""The machine's Docker API, in one of its four access modes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custom_components.wakehub.const import (
    CONF_DOCKER,
    CONF_HOST,
    CONF_MAC,
    CONF_SSH,
    DOCKER_MODE_SSH,
    DOCKER_MODE_TCP,
    DOCKER_MODE_TLS,
    DOCKER_MODE_UNIX,
    DOCKER_MODES,
)
from custom_components.wakehub.core.ids import machine_id
from custom_components.wakehub.entry_channels import (
    child_node_id,
)
from custom_components.wakehub.flows.base import FlowBase
from custom_components.wakehub.flows.checks import async_try_docker
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.records import docker_config, ssh_target
from custom_components.wakehub.flows.schemas import docker_schema
from custom_components.wakehub.flows.validators import (
    API_FIELDS,
    validate,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


class DockerSteps(FlowBase):
    """Add (or replace, or remove) the machine's Docker API."""

    async def async_step_remove_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Reconfigure: forget the machine's Docker API."""
        self._data.pop(CONF_DOCKER)
        return await self.async_step_capabilities()

    async def async_step_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how to reach the machine's Docker API."""
        return self.async_show_menu(
            step_id="docker",
            menu_options=[f"docker_{mode}" for mode in DOCKER_MODES],
        )

    async def _async_docker_step(
        self, mode: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """One Docker access form: tested before it is accepted."""
        errors: dict[str, str] = {}
        defaults: dict[str, Any] = {CONF_HOST: self._data[CONF_HOST]}
        if user_input is not None:
            defaults.update(user_input)
            try:
                user_input = validate(user_input, API_FIELDS)
                docker = docker_config(
                    mode,
                    user_input,
                    ssh_target(self._data[CONF_HOST], self._data[CONF_SSH]),
                )
                containers = await async_try_docker(docker, mode)
            except FlowError as err:
                errors.update(err.errors)
            else:
                self._data[CONF_DOCKER] = docker
                host = machine_id(self._data[CONF_MAC])
                for child in containers.values():
                    self._discovered[child_node_id(host, child)] = (child, host)
                return await self.async_step_capabilities()
        # A failed try shows the form again with what was typed, to fix it.
        return self.async_show_form(
            step_id=f"docker_{mode}",
            data_schema=self.add_suggested_values_to_schema(
                docker_schema(mode, defaults), user_input
            ),
            errors=errors,
        )

    async def async_step_docker_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API over plain TCP."""
        return await self._async_docker_step(DOCKER_MODE_TCP, user_input)

    async def async_step_docker_tls(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API over TLS with a client certificate."""
        return await self._async_docker_step(DOCKER_MODE_TLS, user_input)

    async def async_step_docker_unix(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API on a local unix socket."""
        return await self._async_docker_step(DOCKER_MODE_UNIX, user_input)

    async def async_step_docker_ssh(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Docker API through the machine's SSH connection."""
        return await self._async_docker_step(DOCKER_MODE_SSH, user_input)
