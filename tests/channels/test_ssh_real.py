"""The SSH channel against a real OpenSSH server (``real_sshd``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncssh
import pytest

from custom_components.wakehub.channels.errors import (
    AuthenticationError,
    CommandFailedError,
    HostKeyMismatchError,
    InvalidConfigError,
    ShutdownNotAllowedError,
    UnreachableError,
)
from custom_components.wakehub.channels.ssh import (
    ShutdownCommand,
    SshChannel,
    SshConfig,
    fetch_host_key,
    parse_host_key,
)
from tests.real_servers import free_port

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.real_servers import RealSshd

pytestmark = pytest.mark.real_sshd


def _config(sshd: RealSshd, **overrides: object) -> SshConfig:
    values: dict[str, object] = {
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "password": sshd.password,
        "host_key": sshd.host_public_key,
    }
    values.update(overrides)
    return SshConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean_log(real_sshd: RealSshd) -> None:
    real_sshd.clear_commands()


async def test_fetch_host_key_matches_ssh_keygen(real_sshd: RealSshd) -> None:
    """The fingerprint shown to the user is the one ssh-keygen prints."""
    key = await fetch_host_key(real_sshd.host, real_sshd.port)
    assert key.algorithm == "ssh-ed25519"
    assert key.fingerprint == real_sshd.host_key_fingerprint
    assert key.public_key == real_sshd.host_public_key
    assert parse_host_key(key.public_key) == key


async def test_password_auth_sends_exactly_the_shutdown_command(
    real_sshd: RealSshd,
) -> None:
    """Password auth with the pinned key runs the fixed command, once."""
    await SshChannel(
        _config(real_sshd, shutdown_command=ShutdownCommand.SHUTDOWN_NOW)
    ).shutdown()
    assert real_sshd.commands() == ["shutdown -h now"]


async def test_key_auth_with_sudo(real_sshd: RealSshd) -> None:
    """Public-key auth works, and ``use_sudo`` prefixes ``sudo -n``."""
    channel = SshChannel(
        _config(
            real_sshd,
            password=None,
            private_key=real_sshd.client_private_key,
            use_sudo=True,
        )
    )
    await channel.check()
    await channel.shutdown()
    # The check asks sudo whether it would run the command, without running it.
    assert real_sshd.commands() == [
        "sudo -n -l systemctl poweroff",
        "sudo -n systemctl poweroff",
    ]


@pytest.mark.filterwarnings("ignore:Warning. bcrypt.kdf.. called with only")
async def test_encrypted_private_key(real_sshd: RealSshd) -> None:
    """A passphrase-protected key is decrypted; a wrong passphrase is refused."""
    key = asyncssh.import_private_key(real_sshd.client_private_key)
    # Few KDF rounds: the test is about the passphrase, not bcrypt's cost.
    encrypted = key.export_private_key(
        "openssh", passphrase="s3cret", rounds=2
    ).decode()
    await SshChannel(
        _config(real_sshd, password=None, private_key=encrypted, passphrase="s3cret")
    ).shutdown()
    assert real_sshd.commands() == ["systemctl poweroff"]
    with pytest.raises(AuthenticationError):
        await SshChannel(
            _config(real_sshd, password=None, private_key=encrypted, passphrase="no")
        ).check()


async def test_changed_host_key_is_refused_and_nothing_sent(
    real_sshd: RealSshd,
) -> None:
    """A server presenting another key gets no command at all."""
    channel = SshChannel(_config(real_sshd, port=real_sshd.impostor_port))
    with pytest.raises(HostKeyMismatchError):
        await channel.shutdown()
    assert real_sshd.commands() == []
    # The impostor's own key, once pinned, is accepted.
    await SshChannel(
        _config(
            real_sshd,
            port=real_sshd.impostor_port,
            host_key=real_sshd.impostor_public_key,
        )
    ).shutdown()
    assert real_sshd.commands() == ["systemctl poweroff"]


async def test_wrong_password(real_sshd: RealSshd) -> None:
    """Refused credentials raise AuthenticationError (reauth)."""
    with pytest.raises(AuthenticationError):
        await SshChannel(_config(real_sshd, password="wrong")).shutdown()
    assert real_sshd.commands() == []


async def test_refused_and_bad_config(real_sshd: RealSshd) -> None:
    """A closed port is unreachable; bad settings are rejected up front."""
    with pytest.raises(UnreachableError):
        await SshChannel(_config(real_sshd, port=free_port())).check()
    with pytest.raises(UnreachableError):
        await fetch_host_key("127.0.0.1", free_port())
    with pytest.raises(InvalidConfigError):
        _config(real_sshd, password=None)
    with pytest.raises(InvalidConfigError):
        _config(real_sshd, shutdown_command="rm -rf /")
    with pytest.raises(InvalidConfigError):
        parse_host_key("ssh-ed25519 not-base64")
    with pytest.raises(InvalidConfigError):
        await SshChannel(
            _config(real_sshd, password=None, private_key="garbage")
        ).check()


async def test_shutdown_in_hass_does_not_block(
    hass: HomeAssistant, real_sshd: RealSshd
) -> None:
    """Inside Home Assistant's loop, with its blocking-call detector active."""
    key = await fetch_host_key(real_sshd.host, real_sshd.port)
    channel = SshChannel(
        _config(
            real_sshd,
            host_key=key.public_key,
            password=None,
            private_key=real_sshd.client_private_key,
        )
    )
    await channel.shutdown()
    assert real_sshd.commands() == ["systemctl poweroff"]


def test_command_failed_is_a_channel_error() -> None:
    """CommandFailedError keeps the remote message."""
    err = CommandFailedError("sudo: a password is required")
    assert err.message == "sudo: a password is required"
    assert err.code == "command_failed"


async def test_check_refuses_a_non_root_user_without_sudo(real_sshd: RealSshd) -> None:
    """A real sshd that runs commands for real, as an unprivileged user with
    no sudo rule: the login works, but the check proves the shutdown would be
    refused, with or without sudo. Only ``id -u`` and ``sudo -n -l`` run."""
    with pytest.raises(ShutdownNotAllowedError, match="is not root") as caught:
        await SshChannel(_config(real_sshd, port=real_sshd.plain_port)).check()
    assert caught.value.reason == "not_root"
    with pytest.raises(ShutdownNotAllowedError) as caught:
        await SshChannel(
            _config(real_sshd, port=real_sshd.plain_port, use_sudo=True)
        ).check()
    assert caught.value.reason == "sudo_refused"
    # "sudo: a password is required", or the shell's "not found" without sudo.
    assert "sudo -n -l systemctl poweroff" in caught.value.message
    assert real_sshd.commands() == []  # the logging server saw nothing
