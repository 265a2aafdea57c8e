#!/bin/sh
# Holds a task's network namespace on the run's internal network. Docker 20.10 gives even "internal"
# networks a default route via the host's bridge address, which reaches every service on the host;
# this replaces it so that anything but the proxy fails at once:
#   - an "unreachable" default route: ENETUNREACH for every outside address, no waiting for a drop;
#   - "prohibit" for the host's address on this network.
# Runs with NET_ADMIN only; the task container joins this namespace with no capabilities at all.
set -eu
gateway=$(ip -4 route show default | awk '{print $3; exit}')
ip route del default 2>/dev/null || true
ip route add unreachable default
[ -n "$gateway" ] && ip route add prohibit "$gateway"/32
echo "netns ready"
exec sleep infinity
