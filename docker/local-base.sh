#!/bin/sh
# Build a Debian base image without any registry: debootstrap (minbase) + `docker import`.
#   docker/local-base.sh [IMAGE] [MIRROR]      default local/debian:bookworm, the mirror apt uses on this host
# Includes python3, python3-venv and ca-certificates (the images' Dockerfiles install them when a base lacks them)
# and drops apt's caches and lists (the images' RUN steps run `apt-get update` themselves). Needs root.
set -eu
image=${1:-local/debian:bookworm}
mirror=${2:-}
if [ -z "$mirror" ]; then
    mirror=$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
        | grep -v security | head -n 1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
fi
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d "${TMPDIR:-/tmp}/swarm-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "debootstrap bookworm from $mirror into $work/rootfs" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" "$mirror" >&2
rm -rf "$work/rootfs/var/cache/apt/"* "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | ${DOCKER:-docker} import - "$image"
