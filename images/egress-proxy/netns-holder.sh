#!/bin/sh
# Holds a task's network namespace on the run's internal network, leaving it exactly one reachable
# address: the proxy's. Docker 20.10 gives even "internal" networks a default route via the host's
# bridge address, which reaches every service on the host, and a connected route to the whole run
# network, which reaches sibling tasks and (through its broadcast address) services the host listens
# on at 0.0.0.0. So:
#   - an "unreachable" default route: ENETUNREACH for every outside address, no waiting for a drop;
#   - the connected subnet route replaced by a host route to the proxy alone (siblings unreachable);
#   - the subnet's broadcast and network routes removed from the local table, so a datagram to the
#     broadcast address has no route either (the local table is consulted before the main one).
# Runs with NET_ADMIN only; the task container joins this namespace with no capabilities at all.
set -eu
proxy=$(awk '$2 == "sandbox-proxy" { print $1; exit }' /etc/hosts)
[ -n "$proxy" ] || { echo "netns holder: no sandbox-proxy entry in /etc/hosts" >&2; exit 1; }
ip route del default 2>/dev/null || true
ip route add unreachable default
ip -4 route show proto kernel scope link | while read -r subnet _ dev _; do
  ip route del "$subnet" dev "$dev"
  ip route add "$proxy"/32 dev "$dev"
done
ip -4 route show table local type broadcast | while read -r _ address _ dev _; do
  [ "$dev" = lo ] && continue
  ip route del broadcast "$address" dev "$dev" table local
done
echo "netns ready"
exec sleep infinity
