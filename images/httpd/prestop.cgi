#!/bin/sh
date +%s > /tmp/prestop-called
echo "pre-stop hook called" >&2
printf 'Content-Type: text/plain\r\n\r\nbye\n'
