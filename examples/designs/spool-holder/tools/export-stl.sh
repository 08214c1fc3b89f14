#!/bin/sh
# Export every printable part of the spool holder to STL with OpenSCAD.
#
# Usage: tools/export-stl.sh [OUTPUT_DIR]     (default: export/ in the design)
# Extra OpenSCAD settings can be passed in OPENSCAD_ARGS, for example
#   OPENSCAD_ARGS='-D hub_large_d=70' tools/export-stl.sh
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/export"}
openscad=${OPENSCAD:-openscad}

if ! command -v "$openscad" >/dev/null 2>&1; then
    echo "export-stl.sh: '$openscad' not found: install OpenSCAD (2021.01 or later)" >&2
    exit 1
fi

mkdir -p "$out"
for part in wall-bracket spool-hub; do
    echo "exporting $part -> $out/$part.stl"
    # shellcheck disable=SC2086 # OPENSCAD_ARGS is split on purpose
    "$openscad" -q ${OPENSCAD_ARGS:-} -D "part=\"$part\"" \
        -o "$out/$part.stl" "$here/cad/spool-holder.scad"
done
echo "done: print 1 x wall-bracket.stl and 2 x spool-hub.stl"
