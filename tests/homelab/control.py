"""The control API: JSON over HTTP to observe and arrange the homelab.

Routes (stable, other tools rely on them):

- ``GET /ready``: the ready document.
- ``GET /nodes``: ``[{"name", "kind", "parent", "state", ...}]``.
- ``GET /nodes/{name}``: one node.
- ``GET /log``: the power commands received, in order.
- ``GET /states``: every state change (``{"t", "node", "state"}``, or
  ``"health": "healthy"``), in order, with its monotonic time.
- ``GET /commands``: every SSH command received, in order.
- ``GET /requests`` and ``POST /requests/reset``: request counters.
- ``POST /power`` ``{"node", "state"}``: set a state instantly.
- ``POST /faults`` ``{"node", "fault", "value"}``: inject (or clear) a fault.
- ``POST /metrics`` ``{"node", "cpu"?, "mem"?, "netin"?, "netout"?,
  "connections"?}``: set (``null``: restore) a node's usage figures, served
  by Proxmox, Docker stats and SSH (metrics.py); ``GET /metrics/{name}``
  shows what the node serves now.
- ``POST /recreate`` ``{"node"}``: give a container a new ID.
- ``POST /migrate`` ``{"node", "target"}``: move a guest to another node of
  its cluster (as ``qm migrate``).
- ``POST /tokens`` ``{"token", "privileges"}``: give a privilege-separated
  token an ACL on ``/``.
- ``POST /cluster`` ``{"qdevice"}``: add or remove the cluster's QDevice.
- ``POST /reset``: all off, faults, log and counters cleared (and
  certificates, migrations, token ACLs and the QDevice restored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import metrics
from .core import HomelabError

if TYPE_CHECKING:
    from .core import Homelab


def build_control_app(lab: Homelab) -> web.Application:
    """Return the control API application for ``lab``."""
    routes = web.RouteTableDef()

    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text='{"error": "body must be JSON"}', content_type="application/json"
            ) from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(
                text='{"error": "body must be an object"}',
                content_type="application/json",
            )
        return data

    def _error(err: Exception, status: int = 400) -> web.Response:
        return web.json_response({"error": str(err)}, status=status)

    @routes.get("/ready")
    async def ready(request: web.Request) -> web.Response:
        return web.json_response(lab.ready_document())

    @routes.get("/nodes")
    async def nodes(request: web.Request) -> web.Response:
        return web.json_response(
            [lab.node_summary(node) for node in lab.nodes.values()]
        )

    @routes.get("/nodes/{name}")
    async def node(request: web.Request) -> web.Response:
        try:
            return web.json_response(
                lab.node_summary(lab.node(request.match_info["name"]))
            )
        except HomelabError as err:
            return _error(err, 404)

    @routes.get("/log")
    async def log(request: web.Request) -> web.Response:
        return web.json_response(lab.power_log)

    @routes.get("/states")
    async def states(request: web.Request) -> web.Response:
        return web.json_response(lab.state_log)

    @routes.get("/commands")
    async def commands(request: web.Request) -> web.Response:
        return web.json_response(lab.ssh_commands)

    @routes.get("/requests")
    async def requests(request: web.Request) -> web.Response:
        return web.json_response(lab.requests_summary())

    @routes.post("/requests/reset")
    async def requests_reset(request: web.Request) -> web.Response:
        lab.clear_requests()
        return web.json_response({"ok": True})

    @routes.post("/power")
    async def power(request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            await lab.set_power(str(data.get("node")), str(data.get("state")))
        except HomelabError as err:
            return _error(err)
        return web.json_response(lab.node_summary(lab.node(str(data["node"]))))

    @routes.post("/faults")
    async def faults(request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            await lab.set_fault(
                str(data.get("node")), str(data.get("fault")), data.get("value", True)
            )
        except (HomelabError, ValueError) as err:
            return _error(err)
        return web.json_response(lab.node_summary(lab.node(str(data["node"]))))

    @routes.post("/metrics")
    async def set_metrics(request: web.Request) -> web.Response:
        data = await _body(request)
        name = str(data.pop("node", None))
        try:
            node = lab.node(name)
            metrics.set_metrics(node, data)
        except (HomelabError, ValueError, TypeError, KeyError) as err:
            return _error(err)
        return web.json_response(lab.metrics_summary(node))

    @routes.get("/metrics/{name}")
    async def get_metrics(request: web.Request) -> web.Response:
        try:
            node = lab.node(request.match_info["name"])
        except HomelabError as err:
            return _error(err, 404)
        return web.json_response(lab.metrics_summary(node))

    @routes.post("/recreate")
    async def recreate(request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            container_id = lab.recreate_container(str(data.get("node")))
        except HomelabError as err:
            return _error(err)
        return web.json_response({"node": data["node"], "id": container_id})

    @routes.post("/migrate")
    async def migrate(request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            lab.migrate_guest(str(data.get("node")), str(data.get("target")))
        except HomelabError as err:
            return _error(err)
        return web.json_response(lab.node_summary(lab.node(str(data["node"]))))

    @routes.post("/tokens")
    async def tokens(request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            lab.grant_token(str(data.get("token")), list(data.get("privileges") or []))
        except HomelabError as err:
            return _error(err)
        return web.json_response({"ok": True})

    @routes.post("/cluster")
    async def cluster(request: web.Request) -> web.Response:
        data = await _body(request)
        if lab.cluster_name is None:
            return _error(HomelabError("this scenario has no cluster"))
        lab.qdevice = bool(data.get("qdevice"))
        return web.json_response({"ok": True, "qdevice": lab.qdevice})

    @routes.post("/reset")
    async def reset(request: web.Request) -> web.Response:
        await lab.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes(routes)
    return app
