"""Homelab simulator: the reference homelab over real protocols, on 127.0.0.1.

Not shipped to users. It serves, each on its own loopback port (ephemeral by
default, stable for the simulator's lifetime), everything WakeHub talks to:

- **WoL**: one UDP listener for real magic packets (6 x FF + MAC x 16, with an
  optional 4/6-byte SecureOn password). A valid packet for an ``off`` machine
  boots it; malformed packets are logged and ignored.
- **SSH** (asyncssh) on every machine and on every Docker-capable guest
  (VM-Docker). User ``wakehub``, password or the client key. ``[sudo -n ]systemctl
  poweroff``, ``[sudo -n ]shutdown -h now`` and ``[sudo -n ]poweroff`` shut the
  node down (exit 0, then the connection drops); anything else exits 127 with
  ``bash: line 1: X: command not found`` on stderr. direct-streamlocal channels
  to ``/var/run/docker.sock`` are tunnelled to that host's Docker API.
- **Proxmox VE API** on Machine1 (node ``pve1``) and Machine2 (``pve2``):
  HTTPS with a node certificate signed by the host's own CA (as
  ``pve-ssl.pem`` by ``pve-root-ca.pem``), ``/api2/json``, ticket and token
  auth, see docs/design.md, "The Proxmox VE API as WakeHub meets it".
  proxmoxer works against it unmodified.
  In the default ``reference`` scenario the two hosts are standalone; in the
  ``cluster`` scenario they form one two-node cluster (``homelab``): both
  APIs list both nodes and all their guests, a call for the other node is
  proxied to it, they share one CA and their tickets, and guest starts need
  quorum (one node alone has it only with ``qdevice=True``).
- **Docker Engine API** (plain HTTP, API 1.43, ``/v1.NN`` prefixes accepted) on
  VM-Docker (while it runs) and RaspberryPi (while it is on).

A service accepts connections only while its node is up (``on`` for machines,
``running`` for guests), and is reopened on the same port when the node comes
back. Otherwise its port answers as a real network would (``service.py``):
while its machine is ``off`` or ``booting`` nothing answers at all (a connect
times out: a host that is off sends no ARP reply, so no SYN is ever
answered); while its machine is ``on`` or ``shutting_down`` the connection is
refused (Linux resets a SYN to a port nobody listens on,
net/ipv4/tcp_ipv4.c ``tcp_v4_send_reset``).

Power model
-----------
Machines: ``off`` -> ``booting`` -> ``on`` -> ``shutting_down`` -> ``off``.
Guests and containers: ``stopped`` / ``running`` (``GET /nodes`` also shows a
``transition`` of ``starting``/``stopping`` while a delay runs; the state flips
at the end of it). Unscaled delays (s): machine boot 6 / shutdown 3, VM 3 / 2,
LXC 1.5 / 1, container 0.5 / 1, plex health check ``starting`` -> ``healthy``
after 2. ``time_scale`` multiplies every delay. A machine going down takes its
guests and containers down; a guest going down takes its containers down.
Everything starts off.

Python API
----------
``Homelab(scenario="reference", *, time_scale=1.0, control_port=0, wol_port=0,
extra_guests=0, extra_containers=0, qdevice=False)`` (``tests.homelab.core``):
``await start()``, ``await stop()``, ``ready_document() -> dict``,
``await set_power(name, state)``, ``await set_fault(name, fault, value=True)``,
``await reset()``, ``await wait_state(name, state, timeout=10.0)``,
``recreate_container(name) -> str``, ``requests_summary() -> dict``,
``power_log: list[dict]``, ``nodes: dict[str, Node]``. One event loop only.

``HomelabThread(scenario="reference", *, time_scale=0.02, **homelab_kwargs)``
(``tests.homelab.thread``) runs a Homelab in its own thread and loop:
``.start() -> self`` (blocks until bound), ``.stop()``, context manager,
``.ready`` (the ready document), ``.nodes()``, ``.node(name)``, ``.state(name)``,
``.log()``, ``.commands()`` (SSH commands), ``.requests()``,
``.reset_requests()``, ``.set_power(name, state)``, ``.fault(name, fault,
value=True)``, ``.recreate(name) -> new id``, ``.migrate(guest, target)``,
``.grant_token(token, privileges)``, ``.set_qdevice(enabled)``, ``.reset()``,
``.wait_state(name, state, timeout=10.0)`` and, from inside another event loop
(e.g. a Home Assistant test), ``await .async_wait_state(...)`` and
``await .async_run(lambda lab: coro)``. The synchronous methods block: call
them from a Home Assistant test only between awaits that do not need the
loop, or through ``hass.async_add_executor_job``.

Pytest fixtures (``tests.homelab.fixtures``, registered in tests/conftest.py):
``homelab_server`` (session, reference scenario, time scale 0.02) and
``homelab`` (function; calls ``.reset()`` and returns the same handle);
``cluster_homelab`` (function, over a session ``cluster`` scenario without
QDevice, reset first).

Scaled variant for benchmarks: ``Homelab(extra_guests=60, extra_containers=200)``
adds guests ``bench-guest-000``... (vmids from 1001, alternately VM and LXC) on
Machine1 and containers ``bench-000``... on VM-Docker.

Ready document
--------------
Printed (one JSON line) and written to ``--ready-file`` by the CLI, returned by
``GET /ready`` and ``HomelabThread.ready``. Fields are never renamed::

    {
      "control_url": "http://127.0.0.1:P",
      "wol": {"host": "127.0.0.1", "port": P},
      "time_scale": 0.02,
      "scenario": "reference",
      "cluster": null | {"name": "homelab", "members": ["Machine1", "Machine2"],
                         "qdevice": bool},
      "nodes": {
        "<name>": {
          "name": str, "kind": "machine"|"vm"|"lxc"|"container",
          "parent": str|null, "host": "127.0.0.1",
          "vmid": int (guests only), "mac": "52:54:00:..." (machines only),
          "image": str, "healthcheck": bool (containers only),
          "service": {"port", "url"}, "agent": bool (guests only: the
                     guest's own service, answering once its OS booted),
          "ssh": null | {"port", "username" ("root"),
                         "unprivileged_username" ("wakehub": shuts down
                         only through sudo, no docker.sock), "password",
                         "private_key" (OpenSSH text, ed25519),
                         "public_key" (its authorized_keys line),
                         "host_key" (OpenSSH public key line),
                         "host_key_fingerprint" ("SHA256:...", asyncssh form)},
          "proxmox": null | {"port", "node" ("pve1"), "fingerprint"
                             ("AB:CD:..." SHA-256), "certificate" (PEM),
                             "ca_fingerprint", "ca_certificate" (its CA),
                             "token_user": "wakehub@pve", "token_name": "wakehub",
                             "token_value", "user": "root@pam", "password",
                             "tokens": {"wakehub"|"readonly"|"vmuser"|"privsep":
                                        {"value", "privileges": [...],
                                         "privsep": bool}}},
          "docker": null | {"port", "url": "tcp://127.0.0.1:P",
                            "socket_path": "/var/run/docker.sock"}
        }
      }
    }

The ``wakehub`` token has every privilege (including Sys.PowerMgmt for the node
shutdown); ``readonly`` has VM.Audit + Sys.Audit; ``vmuser`` has VM.Audit +
VM.PowerMgmt; ``privsep`` is privilege-separated and has nothing until
``grant_token`` gives it an ACL (it then sees an empty guest list, no 403).
The certificates change after a ``cert_renew`` or ``ca_change`` fault: read
them again from ``GET /ready``. The ``host_key`` changes after a ``hostkey_change`` fault: read
it again from ``GET /ready``.

Control API (JSON over HTTP at ``control_url``)
----------------------------------------------
``GET /ready``; ``GET /nodes`` -> ``[{"name", "kind", "parent", "state",
"transition", "vmid", "mac", "container_id", "health", "faults"}]``;
``GET /nodes/{name}``; ``GET /log`` -> ``[{"t" (monotonic), "node", "action"
(wol|ssh_shutdown|pve_start|pve_shutdown|pve_stop|pve_node_shutdown|
docker_start|docker_stop), "channel" (wol|ssh|proxmox|docker), ...details}]``
(every command received, even when ignored, e.g. ``"result": "ignored:
ignore_wol fault"`` for WoL); ``GET /commands`` (SSH commands);
``GET /requests`` -> ``{"total": N, "hosts": {node: {"total", "endpoints":
{"proxmox GET /cluster/resources": n, ...}}}, "endpoints": {...}}``;
``POST /requests/reset``; ``POST /power {"node", "state"}`` (on/off for
machines, running/stopped for guests and containers; bringing a node up brings
its ancestors up, taking it down takes its descendants down, instantly);
``POST /faults {"node", "fault", "value"}``; ``POST /recreate {"node"}``;
``POST /migrate {"node", "target"}`` (a guest to another member of its
cluster); ``POST /tokens {"token", "privileges"}`` (an ACL for the
privilege-separated token); ``POST /cluster {"qdevice"}``; ``POST /reset``. Errors answer 400/404 ``{"error": "..."}``.

Faults (``value`` false/null clears a persistent one):
``ignore_wol``, ``boot_fails`` (boots, then falls back to off),
``api_status`` (401/403/500...: the node's Proxmox or Docker API answers that),
``latency`` (real seconds added to each Proxmox/Docker answer, not scaled),
``ssh_refuse`` (``sshd`` crashed: the SSH port refuses connections while
the node stays on), ``hostkey_change`` (one-shot:
new host key), ``crash`` (one-shot: down now, no command), ``recreate``
(one-shot: container gets a new ID), ``sudo_password_required``, ``secureon``
(value: the password hex the NIC requires), ``ignore_shutdown`` (a guest
ignores ACPI shutdown: the task fails ``VM quit/powerdown failed - got
timeout`` after ``timeout``, or stops hard with ``forceStop=1``), ``cert_renew`` (one-shot, a
Proxmox host: a new node certificate from the same CA, as ``pveupdate``),
``ca_change`` (one-shot: a new CA and new certificates for the whole cluster),
and for guests: ``startup_down`` (seconds: the guest's ``startup: down=``,
the shutdown window when no ``timeout`` is sent; 60 s without it),
``shutdown_delay`` (seconds its OS takes to shut down), ``qmpstatus``
(``paused``, ``suspended``, ``io-error``...: a running VM in that QMP state,
serving nothing; ``status/resume`` clears it), ``lock`` (``migrate``: a
migration under way), ``ha`` (``managed``: HA-managed, start/stop return
``hastart``/``hastop`` tasks that end at once and the HA manager acts a
second later; ``error``: it never acts).

Guests boot in two phases: Proxmox says ``running`` once the start task ends
(QEMU launched), their services (``service``, and a VM-Docker's Docker API and
SSH) and their QEMU guest agent come up ``delays.up`` later (``GET /log``'s
state log has ``{"node", "services": "up"}``). A ``pve_shutdown``/``pve_stop``
log entry gains ``result`` and ``forced`` (whether the guest was killed) when
its task ends. ``Homelab(status_interval=...)`` (``--status-interval``) makes
``/cluster/resources`` lag as ``pvestatd`` does.

CLI: ``python -m tests.homelab --scenario reference|cluster [--qdevice]
--time-scale 1.0 --control-port 0 --wol-port 0 --ready-file PATH`` runs until
SIGINT/SIGTERM.
"""

from __future__ import annotations

from .core import Homelab, HomelabError
from .thread import HomelabThread

__all__ = ["Homelab", "HomelabError", "HomelabThread"]
