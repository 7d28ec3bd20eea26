#!/bin/sh
# Test and example image: busybox httpd on $HTTP_PORT (default 8000) with a health endpoint that can be
# switched off from inside the container (touch /tmp/unhealthy) and a pre-stop hook that leaves a mark.
# The shell stays PID 1 and forwards SIGTERM: PID 1 ignores signals it has no handler for, so an exec'd httpd
# would make every `docker stop` wait out its full grace period.
mkdir -p /tmp
echo "starting httpd on port ${HTTP_PORT:-8000} as $(id -u)"
/bin/httpd -f -v -p "${HTTP_PORT:-8000}" -h /www &
httpd=$!
trap 'kill -TERM "$httpd" 2>/dev/null; wait "$httpd"; echo "httpd stopped"; exit 0' TERM INT
wait "$httpd"
