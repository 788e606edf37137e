"""The Docker Engine API of a Docker host (plain HTTP).

Paths work with and without a ``/v1.NN`` prefix, as on the real engine. The
shapes follow Docker Engine API 1.41+ for what WakeHub uses: ping, version,
container list/inspect/stats/start/stop and the event stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from . import metrics
from .model import Node, wall_time

if TYPE_CHECKING:
    from .core import Homelab

_LOGGER = logging.getLogger(__name__)

API_VERSION: Final = "1.43"
MIN_API_VERSION: Final = "1.12"
ENGINE_VERSION: Final = "24.0.7"
SERVER: Final = f"Docker/{ENGINE_VERSION} (linux)"
VERSION_PREFIX: Final = re.compile(r"^/v(?P<version>\d+\.\d+)(?P<rest>/.*)$")
STATUS_MESSAGES: Final = {
    401: "unauthorized",
    403: "forbidden",
    500: "simulated daemon error",
    503: "service unavailable",
}


def _iso(epoch: float) -> str:
    if epoch <= 0:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _human(seconds: float) -> str:
    """Docker's go-units HumanDuration."""
    seconds = int(seconds)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def docker_error(status: int, message: str) -> web.Response:
    """Return Docker's error body ``{"message": ...}``."""
    return web.json_response({"message": message}, status=status)


class DockerApi:
    """The Docker daemon of one host."""

    def __init__(self, lab: Homelab, host: str) -> None:
        """Serve the containers of ``host``."""
        self.lab = lab
        self.host = host
        self.subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._last_state: dict[str, tuple[str, str | None]] = {}
        lab.add_state_hook(self._on_change)

    # ---------------------------------------------------------------- events

    def _on_change(self, node: Node) -> None:
        if node.name == self.host and not node.is_up:
            for queue in list(self.subscribers):
                queue.put_nowait(None)
            return
        if node.kind != "container" or node.parent != self.host:
            return
        previous = self._last_state.get(node.name, ("stopped", None))
        current = (node.state, node.health)
        self._last_state[node.name] = current
        actions: list[str] = []
        if previous[0] != current[0]:
            actions = ["start"] if node.is_up else ["kill", "die", "stop"]
        elif current[1] and previous[1] != current[1]:
            actions = [f"health_status: {current[1]}"]
        for action in actions:
            self._publish(node, action)

    def _publish(self, node: Node, action: str) -> None:
        now = wall_time()
        attributes = {"image": node.image, "name": node.name}
        if action == "die":
            attributes["exitCode"] = "0"
        event = {
            "status": action,
            "id": node.container_id,
            "from": node.image,
            "Type": "container",
            "Action": action,
            "Actor": {"ID": node.container_id, "Attributes": attributes},
            "scope": "local",
            "time": int(now),
            "timeNano": int(now * 1e9),
        }
        for queue in list(self.subscribers):
            queue.put_nowait(event)

    # ------------------------------------------------------------- plumbing

    def find(self, ref: str) -> Node | None:
        """Resolve a container by ID, name (with or without "/") or ID prefix."""
        containers = self.lab.containers_of(self.host)
        for node in containers:
            if ref in (node.container_id, node.name, f"/{node.name}"):
                return node
        matches = [n for n in containers if ref and n.container_id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one request (the app's only handler)."""
        path = request.path
        match = VERSION_PREFIX.match(path)
        if match:
            version = match["version"]
            path = match["rest"]
            if tuple(map(int, version.split("."))) > tuple(
                map(int, API_VERSION.split("."))
            ):
                self.lab.count(self.host, f"docker {request.method} {path}")
                return docker_error(
                    400,
                    f"client version {version} is too new. Maximum supported API version is {API_VERSION}",
                )
        endpoint = (
            path
            if path == "/containers/json"
            else re.sub(r"^/containers/[^/]+(/|$)", r"/containers/{id}\1", path)
        )
        self.lab.count(self.host, f"docker {request.method} {endpoint}")
        node = self.lab.node(self.host)
        latency = node.faults.get("latency")
        if latency:
            await asyncio.sleep(float(latency))
        status = node.faults.get("api_status")
        if status:
            return docker_error(
                int(status), STATUS_MESSAGES.get(int(status), "simulated fault")
            )
        method = request.method
        if path == "/_ping" and method in ("GET", "HEAD"):
            return self.ping(method)
        if path == "/version" and method == "GET":
            return web.json_response(self.version())
        if path == "/info" and method == "GET":
            return web.json_response(self.info())
        if path == "/containers/json" and method == "GET":
            return self.list_containers(request)
        if path == "/events" and method == "GET":
            return await self.events(request)
        container = re.fullmatch(
            r"/containers/(?P<ref>[^/]+)/(?P<op>json|stats|start|stop)", path
        )
        if container:
            op = container["op"]
            reads = op in ("json", "stats")
            if reads != (method == "GET") or method not in ("GET", "POST"):
                return docker_error(405, "method not allowed")
            target = self.find(container["ref"])
            if target is None:
                return docker_error(404, f"No such container: {container['ref']}")
            if op == "json":
                return web.json_response(self.inspect(target))
            if op == "stats":
                # One document, as stream=false (metrics.py).
                return web.json_response(
                    metrics.docker_stats(target, self.lab.node(self.host))
                )
            if op == "start":
                return await self.start(target)
            return await self.stop(target)
        return docker_error(404, "page not found")

    # -------------------------------------------------------------- handlers

    def ping(self, method: str) -> web.Response:
        """``GET|HEAD /_ping``."""
        headers = {
            "Api-Version": API_VERSION,
            "Docker-Experimental": "false",
            "Ostype": "linux",
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache",
        }
        body = None if method == "HEAD" else "OK"
        return web.Response(
            text=body, content_type="text/plain", charset="utf-8", headers=headers
        )

    def version(self) -> dict[str, Any]:
        """``GET /version``."""
        return {
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": ENGINE_VERSION,
                    "Details": {
                        "ApiVersion": API_VERSION,
                        "MinAPIVersion": MIN_API_VERSION,
                    },
                }
            ],
            "Version": ENGINE_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "311b9ff",
            "GoVersion": "go1.20.10",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.1.0-simulated",
            "BuildTime": "2023-10-26T09:08:02.000000000+00:00",
        }

    def info(self) -> dict[str, Any]:
        """``GET /info`` (a subset)."""
        containers = self.lab.containers_of(self.host)
        running = sum(1 for c in containers if c.is_up)
        return {
            "ID": f"homelab-{self.host}",
            "Name": self.host.lower(),
            "Containers": len(containers),
            "ContainersRunning": running,
            "ContainersPaused": 0,
            "ContainersStopped": len(containers) - running,
            "ServerVersion": ENGINE_VERSION,
            "OperatingSystem": "Simulated Linux",
            "OSType": "linux",
            "Architecture": "x86_64",
        }

    def _status_text(self, node: Node) -> str:
        if node.is_up:
            text = f"Up {_human(wall_time() - node.started_wall)}"
            if node.health:
                text += (
                    " (health: starting)"
                    if node.health == "starting"
                    else f" ({node.health})"
                )
            return text
        if node.finished_wall <= 0:
            return "Created"
        return f"Exited (0) {_human(wall_time() - node.finished_wall)} ago"

    def _docker_state(self, node: Node) -> str:
        if node.is_up:
            return "running"
        return "exited" if node.finished_wall > 0 else "created"

    def summary(self, node: Node) -> dict[str, Any]:
        """One item of ``GET /containers/json``."""
        return {
            "Id": node.container_id,
            "Names": [f"/{node.name}"],
            "Image": node.image,
            "ImageID": "sha256:" + node.container_id[::-1],
            "Command": "/init",
            "Created": int(node.created),
            "Ports": [],
            "Labels": {"com.docker.compose.service": node.name},
            "State": self._docker_state(node),
            "Status": self._status_text(node),
            "HostConfig": {"NetworkMode": "bridge"},
            "NetworkSettings": {
                "Networks": {"bridge": {"NetworkID": "", "IPAddress": ""}}
            },
            "Mounts": [],
        }

    def list_containers(self, request: web.Request) -> web.Response:
        """``GET /containers/json[?all=1][&filters=...]``."""
        show_all = request.query.get("all", "") not in ("", "0", "false", "False")
        try:
            filters: dict[str, Any] = json.loads(
                request.query.get("filters", "{}") or "{}"
            )
        except ValueError:
            return docker_error(400, "invalid filter")
        containers = self.lab.containers_of(self.host)
        result = []
        for node in sorted(containers, key=lambda n: n.created, reverse=True):
            if not show_all and not node.is_up and "status" not in filters:
                continue
            if not self._matches(node, filters):
                continue
            result.append(self.summary(node))
        return web.json_response(result)

    def _matches(self, node: Node, filters: dict[str, Any]) -> bool:
        def values(key: str) -> list[str]:
            raw = filters.get(key)
            if isinstance(raw, dict):
                return [k for k, v in raw.items() if v]
            return list(raw or [])

        if (names := values("name")) and not any(
            re.search(n, f"/{node.name}") for n in names
        ):
            return False
        if (ids := values("id")) and not any(
            node.container_id.startswith(i) for i in ids
        ):
            return False
        return not (
            (states := values("status")) and self._docker_state(node) not in states
        )

    def inspect(self, node: Node) -> dict[str, Any]:
        """``GET /containers/{id}/json``."""
        state: dict[str, Any] = {
            "Status": self._docker_state(node),
            "Running": node.is_up,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": node.pid if node.is_up else 0,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": _iso(node.started_wall),
            "FinishedAt": _iso(node.finished_wall),
        }
        config: dict[str, Any] = {
            "Hostname": node.container_id[:12],
            "Image": node.image,
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ],
            "Cmd": ["/init"],
            "Labels": {"com.docker.compose.service": node.name},
        }
        if node.healthcheck:
            config["Healthcheck"] = {
                "Test": ["CMD-SHELL", "curl -fsS http://localhost/identity || exit 1"],
                "Interval": 5_000_000_000,
            }
            state["Health"] = {
                "Status": node.health or "unhealthy",
                "FailingStreak": 0,
                "Log": [],
            }
        return {
            "Id": node.container_id,
            "Created": _iso(node.created),
            "Path": "/init",
            "Args": [],
            "State": state,
            "Image": "sha256:" + node.container_id[::-1],
            "Name": f"/{node.name}",
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "HostConfig": {"NetworkMode": "bridge", "RestartPolicy": {"Name": "no"}},
            "Config": config,
            "NetworkSettings": {"Networks": {}},
            "Mounts": [],
        }

    async def start(self, node: Node) -> web.Response:
        """``POST /containers/{id}/start``: 204, or 304 when already running."""
        self.lab.record(node.name, "docker_start", "docker")
        if node.is_up or node.transition == "starting":
            return web.Response(status=304)
        await self.lab.start_container(node.name)
        return web.Response(status=204)

    async def stop(self, node: Node) -> web.Response:
        """``POST /containers/{id}/stop``: 204, or 304 when already stopped."""
        self.lab.record(node.name, "docker_stop", "docker")
        if not node.is_up:
            return web.Response(status=304)
        await self.lab.stop_container(node.name)
        return web.Response(status=204)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``GET /events``: JSON lines, one per container event, until the host dies."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.subscribers.add(queue)
        try:
            while (event := await queue.get()) is not None:
                await response.write(json.dumps(event).encode() + b"\n")
        except ConnectionResetError:
            pass
        finally:
            self.subscribers.discard(queue)
        return response


def build_docker_app(lab: Homelab, host: str) -> web.Application:
    """Return the aiohttp application serving ``host``'s Docker API."""
    api = DockerApi(lab, host)
    app = web.Application()

    async def _server_header(
        request: web.Request, response: web.StreamResponse
    ) -> None:
        response.headers["Server"] = SERVER
        response.headers.setdefault("Api-Version", API_VERSION)

    app.on_response_prepare.append(_server_header)
    app.router.add_route("*", "/{tail:.*}", api.handle)
    return app
