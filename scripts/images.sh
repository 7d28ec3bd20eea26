#!/usr/bin/env bash
# Builds the offline test/example image `drove-ts/httpd:1` (busybox-static rootfs + `docker import`).
# No registry is needed. Idempotent: rebuilds only when the inputs changed (label drove-ts.image.hash).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="${DROVE_TEST_IMAGE:-drove-ts/httpd:1}"
docker_cmd=(docker)
if [ -n "${DOCKER_HOST:-}" ]; then docker_cmd=(docker -H "$DOCKER_HOST"); fi

is_static() { [ -x "$1" ] && case "$(ldd "$1" 2>&1 || true)" in *"not a dynamic executable"*|*"statically linked"*) true ;; *) false ;; esac; }
busybox_bin=""
for candidate in "$(command -v busybox || true)" /bin/busybox /usr/bin/busybox; do
  if [ -n "$candidate" ] && is_static "$candidate"; then busybox_bin="$candidate"; break; fi
done
if [ -z "$busybox_bin" ]; then
  echo "images: a static busybox is needed; install it with: apt-get install -y busybox-static" >&2
  exit 1
fi

hash="$(cat "$busybox_bin" "$here"/images/httpd/* "$0" | sha256sum | cut -c1-16)"
existing="$("${docker_cmd[@]}" image inspect -f '{{ index .Config.Labels "drove-ts.image.hash" }}' "$image" 2>/dev/null || true)"
if [ "$existing" = "$hash" ]; then
  echo "images: $image is up to date"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www/cgi-bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo '<html><body>drove-ts test server</body></html>' > "$root/www/index.html"
echo ok > "$root/www/health"
install -m 0755 "$here/images/httpd/start.sh" "$root/bin/start.sh"
install -m 0755 "$here/images/httpd/health.cgi" "$root/www/cgi-bin/health"
install -m 0755 "$here/images/httpd/prestop.cgi" "$root/www/cgi-bin/prestop"
install -m 0755 "$here/images/httpd/env.cgi" "$root/www/cgi-bin/env"

tar -C "$root" -c . | "${docker_cmd[@]}" import \
  -c 'CMD ["/bin/start.sh"]' \
  -c 'ENV PATH=/bin' \
  -c "LABEL drove-ts.image.hash=$hash" \
  - "$image" >/dev/null
echo "images: built $image"
