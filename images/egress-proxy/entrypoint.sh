#!/bin/bash
# Writes the squid and nginx configs, then runs both in the foreground, bound to this run's internal network only.
# From the environment (nothing secret, nothing of a run's: a gateway is made before the run it goes to is known):
#   SANDBOX_LISTEN_SUBNET   the gateway's internal network (e.g. 172.18.0.0/16): squid and nginx listen on this
#                           container's address in it and nowhere else, so the default bridge the proxy also sits on
#                           (for its own way out) cannot reach them
# From standard input, which the runner writes once, when the gateway is handed to its run, and closes (so nothing of
# the run is in the container's environment, command, labels or layer, where anyone holding the engine's API reads
# it, and a gateway made ahead of its run holds nothing of any run until then): "name=value" lines, then a line
# holding one dot. Until that dot arrives nothing listens. Each may also come from the environment variable named
# after it (SANDBOX_ALLOW, ...), for callers that know the run when they create the container; stdin wins.
#   allow                   space-separated allowlist: "host", "host:port", "1.2.3.4" or "1.2.3.4:port"
#                           (a bare host allows ports 80 and 443)
#   model_upstream          the model API base URL requests to :8080 go to, e.g. https://api.openai.com/v1
#   model_auth              "chatgpt" for a ChatGPT sign-in: model_upstream is the ChatGPT backend
#                           (https://chatgpt.com/backend-api), the model key its access token, and only Codex's
#                           model paths are forwarded (see below); anything else: the API key route
#   chatgpt_fedramp         "true" when the account is FedRAMP (nginx then sets X-OpenAI-Fedramp: true)
#   model_key               the API key (or ChatGPT access token) nginx adds as "Authorization: Bearer ..." (optional)
#   chatgpt_account_id      the ChatGPT-Account-ID nginx sets on the ChatGPT route
# The nginx config holding the secrets is written to a tmpfs (/tmp), readable by root only.
set -eu

model_key=""
chatgpt_account_id=""
allow=${SANDBOX_ALLOW:-}
model_upstream=${SANDBOX_MODEL_UPSTREAM:-}
model_auth=${SANDBOX_MODEL_AUTH:-}
chatgpt_fedramp=${SANDBOX_CHATGPT_FEDRAMP:-}
complete=""
while IFS= read -r line; do
  case "$line" in
    .) complete=1; break ;;
    model_key=*) model_key=${line#model_key=} ;;
    chatgpt_account_id=*) chatgpt_account_id=${line#chatgpt_account_id=} ;;
    allow=*) allow=${line#allow=} ;;
    model_upstream=*) model_upstream=${line#model_upstream=} ;;
    model_auth=*) model_auth=${line#model_auth=} ;;
    chatgpt_fedramp=*) chatgpt_fedramp=${line#chatgpt_fedramp=} ;;
  esac
done
exec </dev/null
[ -n "$complete" ] || { echo "sandbox-proxy: its run (allowlist, model route, secrets) did not arrive on standard input" >&2; exit 1; }

# The address to listen on: this container's own in the run's subnet. None found means no start at all
# (failing closed), never a fallback to every interface.
ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 )); }
subnet=${SANDBOX_LISTEN_SUBNET:-}
[ -n "$subnet" ] || { echo "sandbox-proxy: SANDBOX_LISTEN_SUBNET is not set" >&2; exit 1; }
bits=${subnet#*/}
mask=$(( bits == 0 ? 0 : (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF ))
want=$(( $(ip2int "${subnet%/*}") & mask ))
listen=""
for cidr in $(ip -4 -o addr show | awk '{ print $4 }'); do
  address=${cidr%/*}
  if [ $(( $(ip2int "$address") & mask )) -eq "$want" ]; then listen=$address; break; fi
done
[ -n "$listen" ] || { echo "sandbox-proxy: no address of this container is in $subnet" >&2; exit 1; }

conf=/run/sandbox-proxy
rules=""
i=0
set -f
for entry in $allow; do
  i=$((i + 1))
  host=${entry%:*}
  port=${entry##*:}
  [ "$host" = "$entry" ] && port=""
  # -n: match the request's own words, never a DNS answer. Without it squid resolves a refused name (dst)
  # or reverse-resolves a refused address (dstdomain) just to test the rule, and the query itself carries
  # whatever the agent put in the name out to the world.
  case "$host" in
    *[!0-9.]*) rules="$rules
acl host$i dstdomain -n $host" ;;
    *) rules="$rules
acl host$i dst -n $host" ;;
  esac
  if [ -n "$port" ]; then
    rules="$rules
acl port$i port $port
http_access allow host$i port$i"
  else
    rules="$rules
acl port$i port 80 443
http_access allow host$i port$i"
  fi
done

# Only this gateway's own network may use either port, whatever reaches the address: Docker 20.10 re-inserts its
# FORWARD jump to the isolation chain (delete, then insert) each time it creates a network, and while that jump is
# missing the default bridge is forwarded into internal networks; a request from outside the subnet is refused here.
cat > $conf/squid.conf <<SQUID
http_port $listen:3128
acl gateway src $subnet
http_access deny !gateway
pid_filename $conf/squid.pid
cache deny all
cache_mem 8 MB
access_log stdio:$conf/access.log squid
cache_log stdio:$conf/cache.log
logfile_rotate 0
forwarded_for delete
via off
pinger_enable off
shutdown_lifetime 0 seconds
$rules
http_access deny all
SQUID

set +f
upstream=$model_upstream
auth=""
if [ -n "$model_key" ]; then
  auth="proxy_set_header Authorization \"Bearer $model_key\";"
fi
# The upstream goes through a variable so nginx resolves its name per request: a name that does not
# resolve at start-up must not keep the gateway (and with it the whole run) from starting. An https
# upstream's certificate is verified: the proxy adds a credential to what it forwards.
resolver=$(awk '/^nameserver/ { print ($2 ~ /:/ ? "[" $2 "]" : $2); exit }' /etc/resolv.conf)
forward="proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_ssl_server_name on;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
      proxy_ssl_verify_depth 5;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;"
refused='default_type application/json;'
if [ -n "$upstream" ] && [ "$model_auth" = chatgpt ]; then
  # The ChatGPT route: the access token is a bearer credential for the whole account (conversations,
  # settings, ...), so only what Codex needs for a turn is forwarded, each to a fixed upstream path (never
  # the client's raw URI, which a backend could read differently from nginx's normalised one). The
  # placeholders Codex sends are replaced; a token refresh or revocation from inside is refused here.
  chatgpt="set \$upstream_base \"${upstream%/}\";
      ${auth:-proxy_set_header Authorization \"\";}
      proxy_set_header ChatGPT-Account-ID \"$chatgpt_account_id\";
      proxy_set_header X-OpenAI-Fedramp \"$chatgpt_fedramp\";
      proxy_set_header Cookie \"\";
      $forward"
  location="location = /backend-api/codex/responses {
      limit_except POST { deny all; }
      $chatgpt
      proxy_pass \$upstream_base/codex/responses\$is_args\$args;
    }
    location = /backend-api/codex/responses/compact {
      limit_except POST { deny all; }
      $chatgpt
      proxy_pass \$upstream_base/codex/responses/compact\$is_args\$args;
    }
    location = /backend-api/codex/models {
      limit_except GET { deny all; }
      $chatgpt
      proxy_pass \$upstream_base/codex/models\$is_args\$args;
    }
    location = /sandbox-runner/token-refused {
      $refused
      return 403 '{\"error\":{\"code\":\"sandbox_runner_refused\",\"message\":\"sandbox-runner refreshes ChatGPT tokens on the host, never from a task; if this persists, run codex login on the host\"}}';
    }
    location / {
      $refused
      return 403 '{\"error\":{\"code\":\"sandbox_runner_refused\",\"message\":\"sandbox-runner forwards only the Codex model paths to the ChatGPT backend\"}}';
    }"
elif [ -n "$upstream" ]; then
  location="location / {
      set \$upstream_base \"${upstream%/}\";
      proxy_pass \$upstream_base\$request_uri;
      $auth
      $forward
    }"
else
  location="location / { return 503 \"no model endpoint configured\n\"; }"
fi
secrets=/tmp/sandbox-proxy
(umask 077 && mkdir -p "$secrets")
chmod 700 "$secrets"
(umask 077 && cat > "$secrets/nginx.conf") <<NGINX
worker_processes 1;
pid $conf/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log /dev/stdout;
  client_max_body_size 64m;
  resolver ${resolver:-127.0.0.11} ipv6=off valid=30s;
  resolver_timeout 5s;
  server {
    listen $listen:8080;
    allow $subnet;
    deny all;
    $location
  }
}
NGINX
model_key="" chatgpt_account_id="" auth="" chatgpt="" location=""

# squid drops to its own user, which cannot reopen the container's stdout: it logs to files that
# tail copies to stdout, where the runner reads them through the Docker logs API.
touch $conf/access.log $conf/cache.log
chown -R proxy:proxy $conf
nginx -c "$secrets/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
squid -N -f $conf/squid.conf &
squid_pid=$!
tail -q -n +1 -F $conf/access.log &
tail -q -n +1 -F $conf/cache.log >&2 &

for _ in $(seq 1 500); do
  kill -0 $nginx_pid 2>/dev/null || { echo "sandbox-proxy: nginx exited" >&2; exit 1; }
  kill -0 $squid_pid 2>/dev/null || { echo "sandbox-proxy: squid exited" >&2; exit 1; }
  if (exec 3<>/dev/tcp/$listen/3128) 2>/dev/null && (exec 3<>/dev/tcp/$listen/8080) 2>/dev/null; then
    echo "sandbox-proxy ready"
    break
  fi
  sleep 0.02
done

# Whichever process dies first takes the gateway down with it.
wait -n
