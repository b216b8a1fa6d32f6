#!/usr/bin/env bash
# Publishes the public packages at the versions `changeset version` wrote (the release workflow runs it
# once that commit is on main), with provenance (publishConfig.provenance; the workflow grants the OIDC
# token it needs). `--dry-run` does everything but send: it builds, lists the versions the pending
# changesets would release, packs every public package as it would be published and checks that the tree
# is left as it was. It needs no credentials; scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") dry_run=false ;;
  --dry-run) dry_run=true ;;
  *)
    echo "usage: pnpm release [--dry-run]" >&2
    exit 2
    ;;
esac

before=$(git status --porcelain)
pnpm build --output-logs=errors-only
if [ "$dry_run" = false ]; then
  exec pnpm exec changeset publish
fi

log=$(mktemp)
status="$log.status.json"
trap 'rm -f "$log" "$status"' EXIT
pnpm exec changeset status --output "$status" >/dev/null
echo "the pending changesets would release:"
node -e '
  const { releases } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const shown = releases.filter((r) => r.type !== "none");
  for (const r of shown) console.log(`  ${r.name} ${r.oldVersion} -> ${r.newVersion} (${r.type})`);
  if (shown.length === 0) console.log("  nothing");
' "$status"
if ! pnpm -r --filter './packages/*' publish --dry-run --no-git-checks >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: a public package would fail to publish (above)" >&2
  exit 1
fi
echo "would publish:"
grep -E '^\+ @etcd-naming/' "$log" | sed 's/^+ /  /'
after=$(git status --porcelain)
if [ "$before" != "$after" ]; then
  echo "error: the dry run changed the working tree:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
