/*
 * The WakeHub card's English text. One file per language: to add one, copy
 * this file to translations/<language>.js (Home Assistant's language code:
 * "de", "pt-BR") and translate the values; the integration lists the files
 * it finds, and a key missing from a language falls back to English.
 * {name}-style placeholders are filled in by the card.
 */
export default {
  state: {
    on: "On",
    off: "Off",
    starting: "Starting",
    stopping: "Stopping",
    error: "Error",
    unavailable: "Unavailable",
  },
  // The second line of a row: what the node is, and what it runs on.
  kind: {
    machine: "Machine",
    vm: "Virtual machine",
    lxc: "Container (LXC)",
    container: "Docker container",
  },
  kind_on: "{kind} on {host}",
  button: {
    start: "Start",
    stop: "Stop",
    cancel: "Cancel",
    open: "Open",
    retry: "Retry",
    dismiss: "Dismiss",
    shut_down: "Shut down",
    keep_on: "Keep on",
    keep_starting: "Keep starting",
    cancel_start: "Cancel the start",
  },
  aria: {
    start: "Start {name}",
    stop: "Stop {name}",
    cancel_start: "Cancel the start of {name}",
    open: "Open {name}",
    details: "Details of {name}",
    retry_start: "Retry the start of {name}",
    retry_stop: "Retry the stop of {name}",
    dismiss_error: "Dismiss the error of {name}",
    proposal: "Shutdown proposal for {name}",
    shut_down: "Shut {name} down",
    keep_on: "Keep {name} on",
  },
  busy: {
    start: "Starting…",
    stop: "Stopping…",
    shut_down: "Shutting down…",
    keep_on: "Keeping it on…",
    dismiss: "Clearing the error…",
  },
  progress: {
    start: "Starting {name}: step {step} of {total}",
    stop: "Stopping {name}: step {step} of {total}",
    queued: "Waiting for the cascade that runs now",
    step_start: "Start {name}",
    step_stop: "Stop {name}",
  },
  // What the running step does (the cascade sensor's detail code).
  detail: {
    command: { start: "Starting {node} through {channel}", stop: "Stopping {node} through {channel}" },
    command_via: {
      start: "Starting {node} through {host}'s {channel}",
      stop: "Stopping {node} through {host}'s {channel}",
    },
    waiting_stop: "Waiting for {node} to stop",
    waiting_apis: "Waiting for {node}'s {apis}",
    waiting_up: "Waiting for {node} to be up",
  },
  channel: { wol: "Wake-on-LAN", ssh: "SSH", proxmox: "Proxmox API", docker: "Docker API" },
  // Why a cascade was cancelled (the cascade sensor's cancel_code).
  cancelled: {
    stop_requested: "The start was cancelled: {target} is being shut down.",
  },
  step: {
    pending: "pending",
    running: "running",
    done: "done",
    skipped: "already there",
    failed: "failed",
    cancelled: "cancelled",
  },
  confirm: {
    planning: "Planning the shutdown of {name}…",
    question: "Shut down {name}?",
    cancel_own: "Cancel the start of {name} and shut it down?",
    cancel_other: "Cancel the start of {others} and shut {name} down?",
    first: "These stop first, in this order:",
    runs_on: "{name}, which runs on {of}",
    needs: "{name}, which needs {of}",
  },
  proposal: {
    question: "Nothing running needs {name} any more. Shut it down?",
    expires: "Kept on if nobody answers by {time}.",
  },
  // An inactivity rule counting: the time left before the automatic shutdown.
  idle: {
    left: "Idle: shuts down in {minutes} min unless it is used",
  },
  // " and " joins the last two names of a list: "A, B and C".
  and: " and ",
  empty: "No pinned WakeHub node yet. Pin one in WakeHub's options, or list the nodes in this card's configuration.",
  // A failed start or stop, by the error's code. Placeholders: {node} (the
  // node that failed), {verb} (verb.start or verb.stop), {api} (what
  // answered: Proxmox, Docker, SSH, Wake-on-LAN), {host} (where that API
  // runs), {look} (where to look), {detail} (the API's own words), {status} and {reason} (an HTTP
  // answer).
  verb: { start: "starting", stop: "stopping" },
  api: { proxmox: "Proxmox", docker: "Docker", ssh: "SSH", wol: "Wake-on-LAN" },
  // {look}: where to look after an API's error.
  look: {
    proxmox: "see the Proxmox task log",
    docker: "see the Docker daemon's log on {host}",
    ssh: "see the system log of {host}",
    wol: "check that {host} wakes on LAN",
  },
  http: {
    400: "bad request",
    401: "not authenticated",
    403: "permission denied",
    404: "not found",
    500: "internal error",
    501: "not implemented",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    595: "no connection to the node",
    596: "the node's connection failed",
  },
  error: {
    api_error_http: "{api} on {host} answered HTTP {status} ({reason}) when {verb} {node}: {look}.",
    api_error: "{api} on {host} gave an error when {verb} {node} ({detail}): {look}.",
    task_failed: "{api} on {host} could not finish {verb} {node} ({detail}): {look}.",
    unreachable: "{api} on {host} did not answer when {verb} {node}: check that {host} is on and reachable.",
    timeout: "{api} on {host} did not answer in time when {verb} {node}: check that {host} is on and reachable, then retry.",
    // WakeHub's own wait for the node: {seconds} is how long it waited.
    not_ready_start: "{node} was not up after {seconds} s: check that it boots, then retry.",
    not_ready_stop: "{node} was still on after {seconds} s: check what keeps it from shutting down, then retry.",
    auth_failed: "{api} on {host} refused WakeHub's credentials when {verb} {node}: update them in the machine's settings.",
    permission_denied: "{api} on {host} denied {verb} {node}: give WakeHub's token or user that permission.",
    docker_socket_denied: "Docker on {host} denied access to its socket when {verb} {node}: add WakeHub's user to the docker group.",
    shutdown_not_allowed: "{host} does not let WakeHub shut it down: allow the shutdown command for WakeHub's SSH user.",
    not_controllable: "{host} answers on the network but refuses WakeHub's SSH connection, so {node} cannot be {verb_done}: check that its SSH server runs, then retry.",
    guest_migrating: "{node} was still moving between Proxmox nodes: retry once the migration has ended.",
    guest_state: "Proxmox on {host} cannot start {node} from its present state (paused, suspended or locked): resume or unlock it in Proxmox, then retry.",
    ha_timeout: "Proxmox HA on {host} did not finish {verb} {node} in time: check the HA resource's state in Proxmox, then retry.",
    invalid_config: "{node} cannot be {verb_done} by WakeHub: a channel it needs is not configured; check the machine's settings.",
    channel_error: "{api} on {host} gave an error when {verb} {node} ({detail}): {look}.",
    unexpected_error: "WakeHub failed unexpectedly when {verb} {node} ({detail}): see Home Assistant's log.",
    not_found: "{api} on {host} no longer knows {node}: it may have been removed or moved.",
    tls_error: "{api} on {host} presented a certificate WakeHub does not trust: check the machine's TLS settings.",
    host_key_mismatch: "The SSH host key of {host} changed: review it in the machine's settings before retrying.",
    command_failed: "The command failed on {host} when {verb} {node} ({detail}).",
    library_error: "WakeHub failed when {verb} {node} ({detail}): see Home Assistant's log.",
    no_quorum: "The Proxmox cluster of {host} has no quorum: {node} cannot be {verb_done} until enough nodes are on.",
    node_identity: "{host} is not the Proxmox node WakeHub expects: check the machine's settings.",
    guest_migrated: "{node} moved to another Proxmox node: WakeHub follows it at the next poll; retry then.",
    unknown_node: "WakeHub no longer knows {node}: it was removed from its machine's settings.",
    interrupted: "Home Assistant restarted while {verb} {node}: retry.",
    default: "{verb_cap} {node} failed ({detail}).",
  },
  verb_done: { start: "started", stop: "stopped" },
  verb_cap: { start: "Starting", stop: "Stopping" },
  error_step: "Step {step} of {total} failed.",
  // The card picker's description of the card.
  // A wrong card configuration (YAML).
  config: { invalid: "Invalid configuration", nodes_list: "'nodes' must be a list of entity ids, node ids or names" },
  picker: { description: "Start and stop pinned homelab nodes in dependency order, with live progress." },
  // The visual editor.
  editor: {
    title: "Title",
    nodes: "Nodes",
    nodes_help: "None chosen: every pinned node ({pinned}).",
    none_pinned: "no node is pinned yet",
  },
  // The graph card (wakehub-graph-card.js): the picture and its panel.
  graph: {
    title: "Homelab",
    empty: "No WakeHub node yet.",
    legend_hosts: "runs on",
    legend_needs: "needs",
    aria_picture: "What runs on what, and what needs what",
    aria_node: "{name}, {kind}, {state}",
    aria_cycle: "{name}, {state}: needing it would close a cycle",
    close: "Close",
    needs: "What {name} needs",
    needs_nothing: "{name} needs no other node.",
    needed_by: "Needed by {names}",
    remove: "Remove",
    aria_remove: "{name} no longer needs {dependency}",
    add: "Add a dependency",
    pick: "Tap the node that {name} needs.",
    cancel: "Cancel",
    added: "{name} now needs {dependency}.",
    removed: "{name} no longer needs {dependency}.",
    already: "{name} already needs {dependency}.",
    refused_host: "{name} runs on {host}: it is started first anyway, no dependency needed.",
    refused_hosted: "{hosted} runs on {name}: {name} cannot need it.",
    // Its visual editor.
    editor: {
      title: "Title",
      machines: "Machines",
      machines_help: "Only these machines and what runs on them. None chosen: every machine ({machines}).",
    },
  },
};
