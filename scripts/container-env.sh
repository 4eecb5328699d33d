#!/usr/bin/env bash
# Container tooling for s3ocr: a Docker engine, the debian:bookworm-slim base image and aws-sam-cli.
#
# Idempotent: every step checks first and does nothing when its result is already there. Log lines go to
# stderr; `up` and `env` print shell exports on stdout, so callers can do:
#
#     eval "$(scripts/container-env.sh up)"
#
# Subcommands:
#   up          packages + engine + base image + tools (the default)
#   packages    apt-get install docker.io / debootstrap when missing
#   engine      use a Docker engine that answers, or start a private dockerd; prints DOCKER_HOST
#   env         print DOCKER_HOST of an engine that already answers (exit 1 when none does)
#   base-image  build debian:bookworm-slim with debootstrap + docker import when it is missing
#   tools       install aws-sam-cli into the tools venv
#   status      say what is running
#   stop        stop the private dockerd, only when this script started it
#
# No container registry is reachable from here, so the base image is bootstrapped from the machine's own
# Debian mirror. The private engine adds no NAT: builds reach the mirror with `--network host`, and containers
# on the default bridge reach only this host, at the bridge's gateway address (printed as
# S3OCR_DOCKER_GATEWAY): that is where a local S3 server for `sam local invoke` listens.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_ROOT="${S3OCR_DOCKER_DATA:-/var/lib/s3ocr-docker}"
RUN_DIR="${S3OCR_DOCKER_RUN:-/run/s3ocr-docker}"
PRIVATE_SOCK="$RUN_DIR/docker.sock"
PRIVATE_HOST="unix://$PRIVATE_SOCK"
PIDFILE="$RUN_DIR/dockerd.pid"
DOCKERD_LOG="$RUN_DIR/dockerd.log"
TOOLS_VENV="${TOOLS_VENV:-$ROOT_DIR/build/tools-venv}"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
BASE_IMAGE="${S3OCR_BASE_IMAGE:-debian:bookworm-slim}"
DEBIAN_SUITE=bookworm
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
# A data root that holds several built images takes dockerd a while to load on a busy machine (seen here: more
# than 60 s while other tests ran); when the first start times out, the retry falls back to vfs, which cannot see
# the images overlay2 stored.
ENGINE_TIMEOUT="${S3OCR_ENGINE_TIMEOUT:-180}"
BRIDGE_IF=docker0

log() { printf 'container-env: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# --- packages -------------------------------------------------------------------------------------------

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ "${#missing[@]}" -eq 0 ] && return 0
    is_root || die "missing ${missing[*]}; install them as root (apt-get install ${missing[*]})"
    log "installing ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# --- engine ---------------------------------------------------------------------------------------------

# True when a Docker engine answers at $1 (a DOCKER_HOST value).
engine_answers() {
    DOCKER_HOST="$1" timeout 15 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# The DOCKER_HOST of the first engine that answers: the caller's, ours, the system's.
find_engine() {
    local candidate
    for candidate in "${DOCKER_HOST:-}" "$PRIVATE_HOST" unix:///var/run/docker.sock; do
        [ -n "$candidate" ] || continue
        if engine_answers "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

private_dockerd_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    # A recycled pid is not ours: it must be a dockerd listening on our socket.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "dockerd.*$PRIVATE_SOCK" || return 1
    printf '%s\n' "$pid"
}

start_private_dockerd() {
    local storage_driver="${1:-}"
    mkdir -p "$DATA_ROOT" "$RUN_DIR/exec"
    # An own (empty) config file keeps a host /etc/docker/daemon.json out of the picture.
    [ -f "$RUN_DIR/daemon.json" ] || printf '{}\n' >"$RUN_DIR/daemon.json"
    local args=(
        --host "$PRIVATE_HOST"
        --data-root "$DATA_ROOT"
        --exec-root "$RUN_DIR/exec"
        --pidfile "$PIDFILE"
        --config-file "$RUN_DIR/daemon.json"
        # No NAT and no firewall rules of Docker's own: a container on the default bridge reaches this host
        # (its bridge address) and nothing beyond; builds that need the package mirror use --network host.
        # The bridge stays because `sam local invoke` publishes the emulator's port on it (SAM ignores
        # --docker-network host).
        --iptables=false --ip-masq=false --ip-forward=false
    )
    [ -n "$storage_driver" ] && args+=(--storage-driver "$storage_driver")
    log "starting dockerd on $PRIVATE_HOST (data $DATA_ROOT${storage_driver:+, storage $storage_driver}; log $DOCKERD_LOG)"
    # setsid: the engine outlives the make recipe or pytest session that started it.
    setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local waited=0
    while [ "$waited" -lt "$ENGINE_TIMEOUT" ]; do
        engine_answers "$PRIVATE_HOST" && return 0
        # Give the pidfile a moment to appear before judging the daemon dead.
        if [ "$waited" -ge 3 ] && ! private_dockerd_pid >/dev/null; then
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    return 1
}

ensure_engine() {
    local host
    if host="$(find_engine)"; then
        log "Docker engine answers at $host"
        printf '%s\n' "$host"
        return 0
    fi
    is_root || die "no Docker engine answers and starting one needs root"
    command -v dockerd >/dev/null 2>&1 || die "dockerd missing (run: $0 packages)"
    if private_dockerd_pid >/dev/null; then
        die "our dockerd (pid $(private_dockerd_pid)) runs but does not answer; see $DOCKERD_LOG or run: $0 stop"
    fi
    if ! start_private_dockerd; then
        # overlay2 needs kernel support that some sandboxes lack; vfs always works (slower, larger).
        log "dockerd did not come up (tail of $DOCKERD_LOG below); retrying with the vfs storage driver"
        tail -n 15 "$DOCKERD_LOG" >&2 || true
        stop_private_dockerd
        start_private_dockerd vfs || { tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd does not start"; }
    fi
    isolate_bridge
    log "Docker engine started at $PRIVATE_HOST"
    printf '%s\n' "$PRIVATE_HOST"
}

# The host forwards packets, and without NAT a bridged container's packet to any other address would leave
# the machine as it is; one FORWARD rule keeps bridged containers on this host. Removed again by `stop`.
isolate_bridge() {
    command -v iptables >/dev/null 2>&1 || { log "warning: no iptables; bridged containers are not isolated"; return 0; }
    iptables -C FORWARD -i "$BRIDGE_IF" -j DROP 2>/dev/null ||
        iptables -I FORWARD -i "$BRIDGE_IF" -j DROP ||
        log "warning: could not add the FORWARD rule isolating $BRIDGE_IF"
}

unisolate_bridge() {
    command -v iptables >/dev/null 2>&1 || return 0
    while iptables -D FORWARD -i "$BRIDGE_IF" -j DROP 2>/dev/null; do :; done
}

# The host's address on the default bridge: what a bridged container dials to reach a server on this host.
bridge_gateway() {
    local gateway
    gateway="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
    if [ -z "$gateway" ] && command -v ip >/dev/null 2>&1; then
        # The default bridge's IPAM often leaves Gateway empty; a local engine's bridge interface has it.
        gateway="$(ip -4 -o addr show dev "$BRIDGE_IF" 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')"
    fi
    printf '%s\n' "$gateway"
}

stop_private_dockerd() {
    local pid
    if ! pid="$(private_dockerd_pid)"; then
        log "no dockerd started by this script is running"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local waited=0
    while [ -d "/proc/$pid" ] && [ "$waited" -lt 30 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    if [ -d "/proc/$pid" ]; then
        log "dockerd (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$pid" || true
    fi
    rm -f "$PIDFILE" "$PRIVATE_SOCK"
    # dockerd leaves its network namespaces bind-mounted; nothing of ours stays mounted.
    local netns
    for netns in "$RUN_DIR"/exec/netns/*; do
        if mountpoint -q "$netns" 2>/dev/null; then umount "$netns" || log "warning: could not unmount $netns"; fi
    done
    unisolate_bridge
}

# --- base image -----------------------------------------------------------------------------------------

debian_mirror() {
    if [ -n "${S3OCR_DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "$S3OCR_DEBIAN_MIRROR"
    elif [ -f "$DEBIAN_SOURCES" ]; then
        awk '/^URIs:/ { print $2; exit }' "$DEBIAN_SOURCES"
    else
        awk '/^deb / { print $2; exit }' /etc/apt/sources.list
    fi
}

# Trim a debootstrapped tree the way Debian's official -slim images are trimmed, and point apt at the
# machine's mirror.
slim_rootfs() {
    local rootfs="$1"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
# As in Debian's official -slim images: no docs, man pages or translations (licences kept).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
# Images keep neither downloaded .debs nor apt's binary caches.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    printf 'Acquire::GzipIndexes "true";\n' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    if [ -f "$DEBIAN_SOURCES" ]; then
        rm -f "$rootfs/etc/apt/sources.list"
        cp "$DEBIAN_SOURCES" "$rootfs/etc/apt/sources.list.d/debian.sources"
    fi
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/var/cache/apt/archives/partial/* "$rootfs"/var/cache/debconf/*-old \
        "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
    mkdir -p "$rootfs/var/log/apt"
    # No machine identity baked into the image.
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id"
}

ensure_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE present"
        return 0
    fi
    is_root || die "building $BASE_IMAGE with debootstrap needs root"
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing (run: $0 packages)"
    local mirror workdir
    mirror="$(debian_mirror)"
    [ -n "$mirror" ] || die "cannot tell the Debian mirror from $DEBIAN_SOURCES; set S3OCR_DEBIAN_MIRROR"
    workdir="$(mktemp -d /var/tmp/s3ocr-base.XXXXXX)"
    # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
    trap "rm -rf '$workdir'" EXIT
    log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (about a minute)"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$workdir/rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 ||
        { tail -n 30 "$workdir/debootstrap.log" >&2; die "debootstrap failed"; }
    slim_rootfs "$workdir/rootfs"
    log "importing $BASE_IMAGE"
    tar --numeric-owner --xattrs -C "$workdir/rootfs" -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' \
            --message "debootstrap --variant=minbase $DEBIAN_SUITE $mirror, slimmed (scripts/container-env.sh)" \
            - "$BASE_IMAGE" >&2
    rm -rf "$workdir"
    trap - EXIT
    log "base image $BASE_IMAGE: $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes"
}

# --- tools ----------------------------------------------------------------------------------------------

ensure_tools() {
    if [ -x "$TOOLS_VENV/bin/sam" ] &&
        "$TOOLS_VENV/bin/sam" --version 2>/dev/null | grep -q "version $SAM_CLI_VERSION\$"; then
        log "aws-sam-cli $SAM_CLI_VERSION present in $TOOLS_VENV"
        return 0
    fi
    log "installing aws-sam-cli $SAM_CLI_VERSION into $TOOLS_VENV"
    [ -x "$TOOLS_VENV/bin/python" ] || python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "aws-sam-cli==$SAM_CLI_VERSION" >&2
}

# --- main -----------------------------------------------------------------------------------------------

print_env() {
    printf 'export DOCKER_HOST=%s\n' "$1"
    local gateway
    gateway="$(DOCKER_HOST="$1" bridge_gateway)"
    [ -z "$gateway" ] || printf 'export S3OCR_DOCKER_GATEWAY=%s\n' "$gateway"
    # The legacy builder: this engine has no BuildKit client plugin, and SAM's own builds use the same API.
    printf 'export DOCKER_BUILDKIT=0\n'
}

main() {
    local cmd="${1:-up}"
    case "$cmd" in
    up)
        ensure_packages
        local host
        host="$(ensure_engine)"
        export DOCKER_HOST="$host"
        ensure_base_image
        ensure_tools
        print_env "$host"
        ;;
    packages) ensure_packages ;;
    engine)
        local host
        host="$(ensure_engine)"
        print_env "$host"
        ;;
    env)
        local host
        host="$(find_engine)" || { log "no Docker engine answers (run: $0 up)"; exit 1; }
        print_env "$host"
        ;;
    base-image)
        local host
        host="$(find_engine)" || die "no Docker engine answers (run: $0 engine)"
        DOCKER_HOST="$host" ensure_base_image
        ;;
    tools) ensure_tools ;;
    status)
        local pid host
        if pid="$(private_dockerd_pid)"; then log "private dockerd running (pid $pid) at $PRIVATE_HOST"; fi
        if host="$(find_engine)"; then log "engine answering at $host"; else log "no engine answers"; fi
        ;;
    stop) stop_private_dockerd ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
    *) die "unknown subcommand '$cmd' (try: $0 help)" ;;
    esac
}

main "$@"
