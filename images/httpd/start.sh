#!/bin/sh
# Test and example image: busybox httpd on $HTTP_PORT (default 8000) with a health endpoint that can be
# switched off from inside the container (touch /tmp/unhealthy) and a pre-stop hook that leaves a mark.
mkdir -p /tmp
echo "starting httpd on port ${HTTP_PORT:-8000} as $(id -u)" 
exec /bin/httpd -f -v -p "${HTTP_PORT:-8000}" -h /www
