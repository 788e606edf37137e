# shellcheck shell=bash
# Shared helpers for WakeHub's scripts. Source it; do not run it.
#
#   WH_ROOT            the checkout (absolute, symlinks resolved)
#   wh_log / wh_warn / wh_die
#   wh_now / wh_elapsed START          seconds, for phase timings
#   wh_find_latest_python              a Python >= 3.14.2 on PATH, or nothing
#   wh_find_floor_python               a Python 3.13 (PATH, then pyenv), or nothing
#   wh_choose                          sets WH_PYTHON, WH_PINS, WH_REQ
#   wh_stamp PY REQ                    the hash that says a venv is up to date
#   wh_mounts_under DIR                mount points at or under DIR, deepest first
#   wh_umount_under DIR                unmount them all; fails if any is left
#   wh_safe_rmtree DIR                 rm -rf, but only when nothing is mounted under DIR

WH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export WH_ROOT

# Pins: the HA each requirements file gives (for messages only).
WH_HA_floor="HA 2025.4.4"
WH_HA_latest="HA 2026.10.4"

wh_log() { printf '%s: %s\n' "${WH_PROG:-wakehub}" "$*"; }
wh_warn() { printf '%s: WARNING: %s\n' "${WH_PROG:-wakehub}" "$*" >&2; }
wh_die() {
	printf '%s: ERROR: %s\n' "${WH_PROG:-wakehub}" "$*" >&2
	exit 1
}

wh_now() { date +%s.%N; }
# Seconds since START, one decimal.
wh_elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# True when PYTHON runs and its version is at least MAJOR MINOR MICRO.
_wh_py_at_least() {
	"$1" -c "import sys; sys.exit(0 if sys.version_info[:3] >= ($2, $3, $4) else 1)" \
		>/dev/null 2>&1
}
# True when PYTHON runs and is MAJOR.MINOR exactly.
_wh_py_is() {
	"$1" -c "import sys; sys.exit(0 if sys.version_info[:2] == ($2, $3) else 1)" \
		>/dev/null 2>&1
}
wh_py_version() { "$1" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))'; }

# A Python >= 3.14.2 on PATH. Prints its absolute path.
wh_find_latest_python() {
	local name path
	for name in python3.16 python3.15 python3.14 python3 python; do
		path="$(command -v "$name" 2>/dev/null)" || continue
		if _wh_py_at_least "$path" 3 14 2; then
			printf '%s\n' "$path"
			return 0
		fi
	done
	return 1
}

# A Python 3.13: on PATH first (a pyenv shim that refuses to run is skipped),
# then under pyenv's root, ~/.pyenv and /root/.pyenv. Prints its absolute path.
wh_find_floor_python() {
	local path root cand roots=()
	path="$(command -v python3.13 2>/dev/null)" && _wh_py_is "$path" 3 13 && {
		printf '%s\n' "$path"
		return 0
	}
	if command -v pyenv >/dev/null 2>&1; then
		root="$(pyenv root 2>/dev/null)" && roots+=("$root")
	fi
	[[ -n "${PYENV_ROOT:-}" ]] && roots+=("$PYENV_ROOT")
	[[ -n "${HOME:-}" ]] && roots+=("$HOME/.pyenv")
	roots+=(/root/.pyenv)
	for root in "${roots[@]}"; do
		[[ -d "$root/versions" ]] || continue
		# Newest 3.13.x first.
		while IFS= read -r cand; do
			if _wh_py_is "$cand" 3 13; then
				printf '%s\n' "$cand"
				return 0
			fi
		done < <(ls -d "$root"/versions/3.13.*/bin/python3.13 2>/dev/null | sort -rV)
	done
	return 1
}

# Decide which Python and which pins. WAKEHUB_PINS=floor|latest|auto (default
# auto: latest when a Python >= 3.14.2 is on PATH, else floor).
# WAKEHUB_PYTHON=/path/to/python overrides the search.
wh_choose() {
	local want="${WAKEHUB_PINS:-auto}"
	WH_PYTHON="" WH_PINS=""
	if [[ -n "${WAKEHUB_PYTHON:-}" ]]; then
		WH_PYTHON="$WAKEHUB_PYTHON"
		if [[ "$want" == auto ]]; then
			if _wh_py_at_least "$WH_PYTHON" 3 14 2; then want=latest; else want=floor; fi
		fi
		WH_PINS="$want"
	else
		case "$want" in
		latest) WH_PYTHON="$(wh_find_latest_python)" && WH_PINS=latest ;;
		floor) WH_PYTHON="$(wh_find_floor_python)" && WH_PINS=floor ;;
		auto)
			if WH_PYTHON="$(wh_find_latest_python)"; then
				WH_PINS=latest
			elif WH_PYTHON="$(wh_find_floor_python)"; then
				WH_PINS=floor
			fi
			;;
		*) wh_die "WAKEHUB_PINS must be floor, latest or auto (got '$want')" ;;
		esac
	fi
	[[ -n "$WH_PYTHON" && -n "$WH_PINS" ]] || return 1
	WH_REQ="$WH_ROOT/requirements/$WH_PINS.txt"
	export WH_PYTHON WH_PINS WH_REQ
}

# Hash of everything that decides a venv's contents: the pin file, every file it
# includes (common.txt), the exact Python version, which library versions
# (WAKEHUB_LIBS: Home Assistant's shipped ones or the newest), WakeHub's
# manifest requirements and the script that reads core's pins.
wh_stamp() {
	local py_version="$1" req="$2"
	{
		printf 'python %s\n' "$py_version"
		printf 'pins %s\n' "$(basename "$req")"
		printf 'libs %s\n' "${WAKEHUB_LIBS:-shipped}"
		cat "$req" "$(dirname "$req")"/common.txt
		sed -n '/"requirements"/,/\]/p' "$WH_ROOT/custom_components/wakehub/manifest.json"
		cat "$WH_ROOT/scripts/shipped_pins" "$WH_ROOT/scripts/_install_reqs"
	} | sha256sum | cut -c1-16
}

# Mount points at or under DIR, deepest first. /proc/mounts escapes spaces etc.
# as octal (\040); printf %b turns them back.
wh_mounts_under() {
	local dir="${1%/}" mp
	[[ -n "$dir" ]] || return 0
	while read -r _ mp _; do
		mp="$(printf '%b' "$mp")"
		if [[ "$mp" == "$dir" || "$mp" == "$dir"/* ]]; then
			printf '%s\n' "$mp"
		fi
	done </proc/mounts | awk '{ print length($0) "\t" $0 }' | sort -rn -s -k1,1 | cut -f2-
}

# Unmount everything at or under DIR, deepest first, then check. A busy mount
# is detached lazily rather than left behind.
wh_umount_under() {
	local dir="$1" mp left pass
	for pass in 1 2 3; do
		while IFS= read -r mp; do
			[[ -n "$mp" ]] || continue
			umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null ||
				wh_warn "could not unmount $mp"
		done < <(wh_mounts_under "$dir")
		left="$(wh_mounts_under "$dir")"
		[[ -z "$left" ]] && return 0
		sleep "$pass"
	done
	wh_warn "still mounted under $dir:"$'\n'"$left"
	return 1
}

# rm -rf DIR, only when it is a sensible path and nothing at all is mounted at or
# under it (a bind mount of the checkout or of /dev would otherwise be emptied).
wh_safe_rmtree() {
	local dir="$1" real
	[[ -e "$dir" ]] || return 0
	real="$(realpath -e -- "$dir")" || return 1
	case "$real" in
	/ | /bin | /boot | /dev | /etc | /home | /lib* | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /var | /var/cache | /work)
		wh_die "refusing to remove $real"
		;;
	esac
	if [[ "$real" == "$WH_ROOT" || "$WH_ROOT" == "$real"/* ]]; then
		wh_die "refusing to remove $real: it holds the checkout"
	fi
	wh_umount_under "$real" || wh_die "refusing to remove $real: something is still mounted under it"
	if [[ -n "$(wh_mounts_under "$real")" ]]; then
		wh_die "refusing to remove $real: something is still mounted under it"
	fi
	rm -rf --one-file-system -- "$real"
}
