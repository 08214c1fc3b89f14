#!/bin/sh
# Makes the store of this folder: a data directory written by store format
# version 1, i.e. by communs as of commit e8970d8, before the store recorded
# its format version (spec/storage.md, "Format versions"). Kept to show how
# the committed store was made; running it again with a newer communs would
# make a store of that newer version instead.
#
#   COMMUNS=/path/to/communs-of-e8970d8 sh make.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ada="$COMMUNS --home $work/ada"
"$COMMUNS" --home "$work/grace" init >/dev/null
grace=$("$COMMUNS" --home "$work/grace" id)

$ada init --name "Ada Lovelace" >/dev/null
cp -r "$here/design" "$work/design"
publish=$($ada --json publish "$work/design")
field() { printf '%s' "$1" | python3 -c "import json, sys; print(json.load(sys.stdin)['$2'])"; }
design=$(field "$publish" design)
revision=$(field "$publish" revision)
proposal=$(field "$($ada --json propose "$design" add-maintainer "$grace")" event)
comment=$(field "$($ada --json comment "$design" -m 'Printed in PETG on a Prusa MK4: the clip fits.')" event)
$ada follow "$design" --reason "we print it every week" >/dev/null
$ada pin "$design" "$revision" --reason "the one our workshop tested" >/dev/null

rm -rf "$here/home"
mkdir -p "$here/home"
cp -r "$work/ada/store" "$work/ada/identity.key" "$work/ada/config.toml" "$here/home/"
rm -rf "$here/home/store/blobs/temp"
cat > "$here/expected.json" <<JSON
{
  "author": "$($ada id)",
  "design": "$design",
  "revision": "$revision",
  "proposal": "$proposal",
  "maintainer_proposed": "$grace",
  "comment": "$comment",
  "comment_text": "Printed in PETG on a Prusa MK4: the clip fits."
}
JSON
