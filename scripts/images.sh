#!/usr/bin/env bash
# Builds the offline test/example images with `docker import`; no registry is needed:
#   httpd          drove-ts/httpd:1          busybox-static rootfs with a small HTTP server (images/httpd)
#   node-exporter  drove-ts/node-exporter:1  Debian's prometheus-node-exporter binary and the libraries ldd names
# `images.sh` builds both; `images.sh httpd` or `images.sh node-exporter` one. Idempotent: an image is rebuilt
# only when its inputs changed (label drove-ts.image.hash: its files and the function that builds it).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
docker_cmd=(docker)
if [ -n "${DOCKER_HOST:-}" ]; then docker_cmd=(docker -H "$DOCKER_HOST"); fi

# up_to_date <image> <hash>: true when the image exists with that input hash.
up_to_date() {
  local existing
  existing="$("${docker_cmd[@]}" image inspect -f '{{ index .Config.Labels "drove-ts.image.hash" }}' "$1" 2>/dev/null || true)"
  [ "$existing" = "$2" ]
}

is_static() { [ -x "$1" ] && case "$(ldd "$1" 2>&1 || true)" in *"not a dynamic executable"*|*"statically linked"*) true ;; *) false ;; esac; }

build_httpd() {
  local image="${DROVE_TEST_IMAGE:-drove-ts/httpd:1}" busybox_bin="" candidate hash root applet
  for candidate in "$(command -v busybox || true)" /bin/busybox /usr/bin/busybox; do
    if [ -n "$candidate" ] && is_static "$candidate"; then busybox_bin="$candidate"; break; fi
  done
  if [ -z "$busybox_bin" ]; then
    echo "images: a static busybox is needed; install it with: apt-get install -y busybox-static" >&2
    exit 1
  fi
  hash="$( { cat "$busybox_bin" "$here"/images/httpd/*; sed -n '/^build_httpd/,/^}/p' "$0"; } | sha256sum | cut -c1-16)"
  if up_to_date "$image" "$hash"; then echo "images: $image is up to date"; return; fi

  root="$(mktemp -d)"
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
  rm -rf "$root"
  echo "images: built $image"
}

# The real node agent of the node_exporter example and end-to-end test: the packaged binary as the entrypoint, so
# a spec's `args` are node_exporter's flags. Nothing else is in the image (no shell).
build_node_exporter() {
  local image="${DROVE_NODE_EXPORTER_IMAGE:-drove-ts/node-exporter:1}" bin=/usr/bin/prometheus-node-exporter
  local hash root libraries library version
  if [ ! -x "$bin" ]; then
    echo "images: $bin is needed for $image; install it with: apt-get install -y --no-install-recommends prometheus-node-exporter" >&2
    exit 1
  fi
  # Every library ldd resolves (`name => /path (addr)`) and the loader (`/path (addr)`); linux-vdso has no file.
  libraries="$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)"
  hash="$( { cat "$bin"; for library in $libraries; do cat "$library"; done; sed -n '/^build_node_exporter/,/^}/p' "$0"; } | sha256sum | cut -c1-16)"
  if up_to_date "$image" "$hash"; then echo "images: $image is up to date"; return; fi

  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$bin" "$root/bin/node_exporter"
  for library in $libraries; do cp -L --parents "$library" "$root"; done
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  version="$(dpkg-query -W -f '${Version}' prometheus-node-exporter 2>/dev/null || echo unknown)"

  tar -C "$root" -c . | "${docker_cmd[@]}" import \
    -c 'ENTRYPOINT ["/bin/node_exporter"]' \
    -c 'EXPOSE 9100' \
    -c "LABEL drove-ts.image.hash=$hash" \
    -c "LABEL drove-ts.node-exporter.package=prometheus-node-exporter=$version" \
    - "$image" >/dev/null
  rm -rf "$root"
  echo "images: built $image (prometheus-node-exporter $version)"
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(httpd node-exporter); fi
for target in "${targets[@]}"; do
  case "$target" in
    httpd) build_httpd ;;
    node-exporter) build_node_exporter ;;
    *) echo "images: unknown image $target (httpd, node-exporter)" >&2; exit 2 ;;
  esac
done
