#!/bin/sh
if [ -f /tmp/unhealthy ]; then
  printf 'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nunhealthy\n'
else
  printf 'Content-Type: text/plain\r\n\r\nok\n'
fi
