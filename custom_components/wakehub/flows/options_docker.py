"""The Docker API of a VM or an LXC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custom_components.wakehub.compat import vol
from custom_components.wakehub.const import (
    CONF_DOCKER,
    CONF_HOST,
    CONF_HOST_KEY,
    CONF_MODE,
    CONF_NODES,
    CONF_PASSPHRASE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_SOCKET_PATH,
    CONF_USERNAME,
    DEFAULT_DOCKER_SOCKET,
    DEFAULT_SSH_PORT,
    DOCKER_MODE_SSH,
)
from custom_components.wakehub.flows.checks import async_try_docker
from custom_components.wakehub.flows.errors import FlowError
from custom_components.wakehub.flows.host_key import async_try_read_host_key
from custom_components.wakehub.flows.options_base import OptionsBase
from custom_components.wakehub.flows.records import docker_config, ssh_auth
from custom_components.wakehub.flows.schemas import (
    MULTILINE,
    PASSWORD,
    PORT,
    TEXT,
    docker_schema,
)
from custom_components.wakehub.flows.validators import (
    API_FIELDS,
    async_private_key,
    validate,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import (
        ConfigFlowResult,
    )


class NodeDockerSteps(OptionsBase):
    """A guest's Docker API: the same choices as the machine's."""

    def _node_docker_schema(self) -> vol.Schema:
        """The form of the guest's Docker API in the chosen mode."""
        node = self._options[CONF_NODES][self._node_id]
        defaults: dict[str, Any] = {**(node.get(CONF_DOCKER) or {})}
        if self._docker_mode != DOCKER_MODE_SSH:
            return docker_schema(self._docker_mode, defaults)
        return vol.Schema(
            {
                vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): TEXT,
                vol.Required(
                    CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_SSH_PORT)
                ): PORT,
                vol.Required(
                    CONF_USERNAME, default=defaults.get(CONF_USERNAME, "root")
                ): TEXT,
                vol.Optional(CONF_PASSWORD): PASSWORD,
                vol.Optional(CONF_PRIVATE_KEY): MULTILINE,
                vol.Optional(CONF_PASSPHRASE): PASSWORD,
                vol.Required(
                    CONF_SOCKET_PATH,
                    default=defaults.get(CONF_SOCKET_PATH, DEFAULT_DOCKER_SOCKET),
                ): TEXT,
            }
        )

    async def async_step_node_docker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The Docker API of a VM or LXC: the same choices as the machine's."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                return await self._async_node_docker_input(user_input)
            except FlowError as err:
                errors.update(err.errors)
        return self.async_show_form(
            step_id="node_docker",
            data_schema=self.add_suggested_values_to_schema(
                self._node_docker_schema(), user_input
            ),
            errors=errors,
            description_placeholders={"mode": self._docker_mode},
        )

    async def _async_node_docker_input(
        self, user_input: dict[str, Any]
    ) -> ConfigFlowResult:
        """Check the form; through SSH, read the guest's host key to confirm it.

        Raise :class:`.errors.FlowError`.
        """
        mode = self._docker_mode
        user_input = validate(user_input, API_FIELDS)
        if mode != DOCKER_MODE_SSH:
            return await self._async_test_node_docker(
                docker_config(mode, user_input, {})
            )
        await async_private_key(
            self.hass, user_input.get(CONF_PRIVATE_KEY), user_input.get(CONF_PASSPHRASE)
        )
        auth = ssh_auth(user_input)
        if not auth.get(CONF_PASSWORD) and not auth.get(CONF_PRIVATE_KEY):
            raise FlowError("auth_required")
        key = await async_try_read_host_key(
            user_input[CONF_HOST], user_input[CONF_PORT]
        )
        self._pending_fingerprint = key.fingerprint
        self._pending_docker = {
            CONF_MODE: mode,
            CONF_HOST: user_input[CONF_HOST],
            CONF_PORT: user_input[CONF_PORT],
            CONF_USERNAME: user_input[CONF_USERNAME],
            **auth,
            CONF_HOST_KEY: key.public_key,
            CONF_SOCKET_PATH: user_input[CONF_SOCKET_PATH],
        }
        return await self.async_step_node_docker_host_key()

    async def async_step_node_docker_host_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the guest's SSH host key, pin it and test the tunnel."""
        if user_input is not None:
            try:
                return await self._async_test_node_docker(self._pending_docker)
            except FlowError as err:
                return self.async_show_form(
                    step_id="node_docker",
                    data_schema=self._node_docker_schema(),
                    errors=err.errors,
                    description_placeholders={"mode": self._docker_mode},
                )
        return self.async_show_form(
            step_id="node_docker_host_key",
            data_schema=vol.Schema({}),
            description_placeholders={
                "host": self._pending_docker[CONF_HOST],
                "fingerprint": self._pending_fingerprint,
            },
        )

    async def _async_test_node_docker(self, docker: dict[str, Any]) -> ConfigFlowResult:
        """Test a guest's Docker API; on success save every option.

        Raise :class:`.errors.DockerError`.
        """
        await async_try_docker(docker, self._docker_mode)
        node = dict(self._options[CONF_NODES][self._node_id])
        node[CONF_DOCKER] = docker
        self._options[CONF_NODES][self._node_id] = node
        return self._async_save_validated(self._node_id)
