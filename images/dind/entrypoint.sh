#!/bin/sh
# dockerd on its unix socket, plain TCP on :2375 (socat to that socket), and, when /certs holds
# ca.pem, server-cert.pem and server-key.pem, dockerd's own TLS with client verification on :2376.
set -eu
if [ -f /certs/ca.pem ] && [ -f /certs/server-cert.pem ] && [ -f /certs/server-key.pem ]; then
  set -- -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /certs/ca.pem --tlscert /certs/server-cert.pem --tlskey /certs/server-key.pem
else
  set --
fi
socat TCP-LISTEN:2375,fork,reuseaddr UNIX-CONNECT:/var/run/docker.sock &
exec dockerd -H unix:///var/run/docker.sock "$@"
