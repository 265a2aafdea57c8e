#!/bin/sh
# dockerd on its unix socket, plain TCP on :2375 (socat to that socket), and, when /certs holds
# ca.pem, server-cert.pem and server-key.pem, dockerd's own TLS with client verification on :2376.
# DIND_TLS_ONLY=1 (with the certificates) leaves :2375 closed: the swarm tests' nodes, whose boxes
# sit on this engine's bridge, must find no API there without a client certificate.
set -eu
if [ -f /certs/ca.pem ] && [ -f /certs/server-cert.pem ] && [ -f /certs/server-key.pem ]; then
  set -- -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /certs/ca.pem --tlscert /certs/server-cert.pem --tlskey /certs/server-key.pem
  tls=1
else
  set --
  tls=0
fi
if [ "${DIND_TLS_ONLY:-0}" = 1 ] && [ "$tls" = 1 ]; then
  :
elif [ "${DIND_TLS_ONLY:-0}" = 1 ]; then
  echo "dind: DIND_TLS_ONLY=1 needs /certs/ca.pem, server-cert.pem and server-key.pem" >&2
  exit 1
else
  socat TCP-LISTEN:2375,fork,reuseaddr UNIX-CONNECT:/var/run/docker.sock &
fi
exec dockerd -H unix:///var/run/docker.sock "$@"
