#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (protocol/fuzz/corpus/<target>/)
from the spec's test vectors (spec/vectors/) and a few hostile cases.

Run it again after the vectors change; it rewrites only the files it names
(`<origin>-<n>`), so inputs the fuzzer found and someone chose to commit stay.
The input layouts are those documented at the top of each target's source.
"""

import glob
import io
import json
import os
import struct
import sys
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VECTORS = os.path.join(ROOT, "spec", "vectors")
CORPUS = os.path.join(ROOT, "protocol", "fuzz", "corpus")

ANNOUNCE_TOPIC = b"communs/1/announce"
SHARD_TOPIC_PREFIX = b"communs/1/shard/"
GOSSIP_SHARDS = 64


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def unhex(s):
    return bytes.fromhex(s)


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        self.seen = set()
        self.count = {}

    def add(self, origin, data):
        if data in self.seen:
            return
        self.seen.add(data)
        n = self.count.get(origin, 0)
        self.count[origin] = n + 1
        with open(os.path.join(self.dir, f"{origin}-{n}"), "wb") as f:
            f.write(data)


def hexes(vectors, *keys):
    return [unhex(v["hex"]) for k in keys for v in vectors.get(k, []) if "hex" in v]


# Hostile CBOR shared by the decoders: deep nesting, impossible lengths,
# non-canonical forms, truncations.
HOSTILE_CBOR = [
    b"\x81" * 17 + b"\x00",  # nesting one deeper than the limit
    b"\x81" * 16 + b"\x00",  # nesting at the limit
    b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",  # array of 2^64-1 items
    b"\x5b\x00\x00\x00\x01\x00\x00\x00\x00",  # byte string of 4 GiB, absent
    b"\x7a\xff\xff\xff\xff" + b"a",  # text of 4 GiB, one byte present
    b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff",  # map of 2^64-1 pairs
    b"\xa2\x61\x61\x00\x61\x61\x01",  # duplicate map key
    b"\x62\xc3\x28",  # invalid UTF-8 text
    b"\xc2\x41\x01",  # a tag
    b"\xf9\x3c\x00",  # a float
    b"\x1c",  # reserved additional information
]


def event_design(event_bytes):
    """The design id of a non-genesis event: `[version, design, ...]`,
    design a 32-byte string right after the head and version."""
    if event_bytes[:4] == b"\x88\x01\x58\x20":
        return event_bytes[4:36]
    return None


def gossip_topic(event_bytes):
    design = event_design(event_bytes)
    if design is None:
        return ANNOUNCE_TOPIC
    shard = struct.unpack("<H", design[:2])[0] % GOSSIP_SHARDS
    return SHARD_TOPIC_PREFIX + str(shard).encode()


def gossip_input(topic, message):
    return bytes([len(topic)]) + topic + message


def frames(messages):
    return b"".join(struct.pack(">H", len(m)) + m for m in messages)


def count(n):
    return bytes([n & 0xFF, (n >> 8) & 0x07])


def binary_stl(triangles):
    out = b"binary".ljust(80, b" ") + struct.pack("<I", len(triangles))
    for t in triangles:
        out += struct.pack("<3f", 0, 0, 0) + b"".join(struct.pack("<3f", *v) for v in t) + b"\0\0"
    return out


def ascii_stl(triangles):
    out = "solid seed\n"
    for t in triangles:
        out += "facet normal 0 0 1\n outer loop\n"
        out += "".join(f"  vertex {x} {y} {z}\n" for x, y, z in t)
        out += " endloop\nendfacet\n"
    return (out + "endsolid seed\n").encode()


def zip_of(parts):
    """A deflated zip with fixed dates, so the seed's bytes do not change."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in parts:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def main():
    cbor = load("cbor.json")
    event = load("event.json")
    tree = load("tree.json")
    manifest = load("manifest.json")
    wire = load("catchup-wire.json")
    paths = load("paths.json")
    events_ok = hexes(event, "accepted")

    c = Corpus("cbor")
    for data in hexes(cbor, "accepted", "rejected"):
        c.add("vector", data)
    for data in events_ok + hexes(tree, "accepted") + hexes(manifest, "accepted"):
        c.add("vector-format", data)
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("event")
    for data in hexes(event, "accepted", "rejected"):
        c.add("vector", data)
    for data in events_ok:
        c.add("hostile-truncated", data[:-1])
        c.add("hostile-bad-signature", data[:-1] + bytes([data[-1] ^ 1]))
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("tree")
    for data in hexes(tree, "accepted", "rejected"):
        c.add("vector", data)
    # A file that claims 2^64-1 bytes; the empty tree.
    ok = unhex(tree["accepted"][0]["hex"])
    c.add("hostile-size", ok.replace(b"\x0e\xf4", b"\x1b" + b"\xff" * 8 + b"\xf4", 1))
    c.add("hostile-empty", b"\x82\x01\x80")
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("manifest")
    for data in hexes(manifest, "accepted", "rejected", "okh_files"):
        c.add("vector", data)
    for path in sorted(glob.glob(os.path.join(VECTORS, "manifests", "*"))):
        with open(path, "rb") as f:
            c.add("vector-okh", f.read())
    c.add("hostile-toml-nesting", b"a = " + b"[" * 200 + b"]" * 200 + b"\n")
    c.add("hostile-yaml-alias", b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n")
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("wire")
    for data in hexes(wire, "requests", "responses", "rejected"):
        c.add("vector", data)
    c.add("hostile-fetch-2000", b"\x82\x01\x99\x07\xd0" + (b"\x48" + b"\x00" * 8) * 2000)
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("search")
    for data in hexes(load("search.json"), "queries", "responses", "rejected"):
        c.add("vector", data)
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("paths")
    valid = [v["path"] for v in paths["valid"]]
    for p in valid + [v["path"] for v in paths["invalid"]]:
        c.add("vector", p.encode())
    c.add("vector-tree", "\n".join(valid).encode())
    c.add("hostile-case-collision", b"README.md\nreadme.md\nReadMe.MD")
    c.add("hostile-file-folder", b"a\na/b\na/b/c")
    c.add("hostile-nfc-collision", "\u00e9.txt\ne\u0301.txt".encode())
    c.add("hostile-deep", "/".join(["a"] * 33).encode())
    c.add("hostile-long", ("x" * 129).encode())

    c = Corpus("gossip")
    for data in events_ok:
        topic = gossip_topic(data)
        c.add("vector", gossip_input(topic, data))
        wrong = SHARD_TOPIC_PREFIX + b"0" if topic == ANNOUNCE_TOPIC else ANNOUNCE_TOPIC
        c.add("hostile-wrong-topic", gossip_input(wrong, data))
        c.add("hostile-bad-signature", gossip_input(topic, data[:-1] + bytes([data[-1] ^ 1])))
    for data in hexes(event, "rejected"):
        c.add("vector-rejected", gossip_input(ANNOUNCE_TOPIC, data))

    c = Corpus("announcement")
    catalog = load("catalog.json")
    for data in hexes(catalog, "accepted", "rejected"):
        c.add("vector", data)
    for data in hexes(catalog, "accepted"):
        c.add("hostile-truncated", data[:-1])
        c.add("hostile-bad-signature", data[:-1] + bytes([data[-1] ^ 1]))
    for data in HOSTILE_CBOR:
        c.add("hostile", data)

    c = Corpus("catchup")
    responses = hexes(wire, "responses")
    requests = hexes(wire, "requests")
    for n in (0, 1, 300):
        c.add("vector-initiate", bytes([0]) + count(n) + frames(responses))
        c.add("vector-answer", bytes([1]) + count(n) + frames(requests))
    for v in wire["rejected"]:
        mode = 1 if v["decoded_as"] == "request" else 0
        c.add("vector-rejected", bytes([mode]) + count(10) + frames([unhex(v["hex"])]))
    for mine, theirs, offset in ((0, 0, 0), (10, 10, 0), (300, 300, 250), (1000, 40, 980), (2000, 2000, 100)):
        c.add("honest", bytes([2]) + count(mine) + count(theirs) + count(offset))
        c.add("honest-tampered", bytes([2]) + count(mine) + count(theirs) + count(offset) + b"\x00\x00\x03\x40")
    # A peer that answers every round with an empty reconcile message.
    c.add("hostile-stalling", bytes([0]) + count(100) + frames([b"\x82\x00\x41\x61"] * 70))

    c = Corpus("governance")
    for path in sorted(glob.glob(os.path.join(VECTORS, "governance", "*.json"))):
        with open(path, encoding="utf-8") as f:
            c.add("vector", governance_plan(json.load(f)))
    for plan in hostile_plans():
        c.add("hostile", plan)

    c = Corpus("bundle")
    bundle = load("bundle.json")
    # The first byte chooses the chunk size the target reads in.
    for n, data in enumerate(hexes(bundle, "accepted", "rejected")):
        c.add("vector", bytes([n * 37 % 256]) + data)
    good = unhex(bundle["accepted"][1]["bundle"])
    # A blob record that claims 2^40 bytes and stops; fifty empty events;
    # a good bundle cut at every record boundary's neighbourhood.
    magic = good[:17]
    c.add("hostile-huge-blob", bytes([3]) + magic + bytes([2]) + (2**40).to_bytes(8, "big") + bytes(32) + b"x" * 64)
    c.add("hostile-many-events", bytes([0]) + magic + (bytes([1]) + bytes(8)) * 50)
    for cut in (17, 18, 26, len(good) - 41, len(good) - 1):
        c.add("hostile-cut", bytes([1]) + good[:cut])

    # preview: tiny parts in every format the previewer reads, and a few
    # hostile ones (a count that lies, a 3MF without a model).
    c = Corpus("preview")
    triangle = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    c.add("stl-binary", binary_stl([triangle, [triangle[0], triangle[2], (0.0, 0.0, 1.0)]]))
    c.add("stl-ascii", ascii_stl([triangle]))
    c.add("obj", b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 1\nvt 0 0\nf 1/1 2/1 3/1 4/1\nf -1//1 -2//1 -3//1\n")
    model = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" '
        b'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"><resources>'
        b'<object id="1" type="model"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/>'
        b'<vertex x="0" y="1" z="0"/><vertex x="0" y="0" z="1"/></vertices><triangles>'
        b'<triangle v1="0" v2="1" v3="2"/><triangle v1="0" v2="3" v3="1"/></triangles></mesh></object>'
        b'<object id="2"><components><component objectid="1" transform="1 0 0 0 1 0 0 0 1 2 0 0"/>'
        b"</components></object></resources>"
        b'<build><item objectid="2" transform="2 0 0 0 2 0 0 0 2 0 0 0"/></build></model>'
    )
    rels = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships '
        b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        b'Target="/3D/3dmodel.model" Id="rel0" '
        b'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    c.add("3mf", zip_of([("_rels/.rels", rels), ("3D/3dmodel.model", model)]))
    c.add("hostile-3mf-no-model", zip_of([("_rels/.rels", rels)]))
    lying = bytearray(binary_stl([triangle]))
    lying[80:84] = struct.pack("<I", 5_000_000)
    c.add("hostile-stl-count", bytes(lying))

    for name in sorted(os.listdir(CORPUS)):
        print(f"{name}: {len(os.listdir(os.path.join(CORPUS, name)))} files")


def record(author, kind, parent, parent2=0xFF, ref=0, arg=0):
    return bytes([author, kind, parent, parent2, ref, arg])


def governance_plan(scenario):
    """A worked example of spec/governance.md as a plan of the governance
    target: keys are seeds 1 to 5, so an author of seed s is key s-1."""
    key = {name: seed - 1 for name, seed in scenario["authors"].items()}
    index = {}
    out = b""
    for n, e in enumerate(scenario["events"]):
        index[e["id"]] = n
        if "genesis" in e:
            assert n == 0 and key[e["author"]] == 0, "the target signs the genesis with key 0"
            mask = sum(1 << key[m] for m in e["genesis"]["maintainers"])
            out += bytes([mask, e["genesis"]["threshold"] - 1, 0, 0, 0, 0])
            continue
        parents = [index[p] for p in e["parents"]]
        assert 1 <= len(parents) <= 2
        p1, p2 = parents[0], parents[1] if len(parents) == 2 else 0xFF
        author = key[e["author"]]
        if "revision" in e:
            base = e["revision"]["base"]
            # A plan names one base at most: a revision on two is planned
            # on the first (refused, or taken, as the target decides).
            out += record(author, 0, p1, p2, index[base[0]] if base else 0xFF, n)
        elif "comment" in e:
            on = e["comment"].get("on")
            out += record(author, 6, p1, p2, index[on] if on else 0)
        elif "made" in e:
            outcome = ["worked", "worked-with-changes", "failed"].index(e["made"]["outcome"])
            out += record(author, 7, p1, p2, index[e["made"]["revision"]], outcome)
        elif "approve" in e:
            out += record(author, 1, p1, p2, index[e["approve"]])
        elif "retract" in e:
            out += record(author, 2, p1, p2, index[e["retract"]])
        else:
            p = e["propose"]
            if "add-maintainer" in p:
                arg = 3 * key[p["add-maintainer"]]
            elif "remove-maintainer" in p:
                arg = 3 * key[p["remove-maintainer"]] + 1
            else:
                arg = 3 * p["set-threshold"] + 2
            out += record(author, 3, p1, p2, index[p["prev"]], arg)
    return out


def hostile_plans():
    # An outsider (key 4) approving one revision 60 times in a chain.
    flood = bytes([0b11, 0, 7, 0, 9, 0]) + record(0, 0, 0, ref=0xFF, arg=1)
    flood += b"".join(record(4, 1, n, ref=1) for n in range(1, 61))
    yield flood
    # Equivocation: a maintainer approving two concurrent revisions, then
    # retracting one; a proposal on the genesis and one on a void proposal.
    yield bytes([0b111, 1, 1, 2, 3, 4]) + record(0, 0, 0, ref=0xFF, arg=1) + record(1, 0, 0, ref=0xFF, arg=2) + record(
        2, 1, 1, 2, ref=1
    ) + record(2, 1, 3, ref=2) + record(2, 2, 4, ref=1) + record(1, 3, 0, ref=0, arg=3 * 3) + record(
        2, 3, 0, ref=0, arg=3 * 2 + 1
    ) + record(0, 3, 6, 7, ref=6, arg=3 * 1 + 2)
    # Events of another design, clocks that contradict their parents, and
    # children of both.
    yield bytes([0b1, 0, 0, 0, 0, 0]) + record(0, 4, 0, ref=0) + record(0, 5, 0, arg=0) + record(0, 5, 0, arg=1) + record(
        0, 0, 1, ref=0xFF
    ) + record(0, 1, 2, 3, ref=2) + record(0, 0, 0, ref=0xFF, arg=5)


if __name__ == "__main__":
    sys.exit(main())
