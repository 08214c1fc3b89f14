//! Bundles written by hand, as a stranger or another implementation could
//! write them: every one `fsck` would complain about once stored is refused
//! whole, with a clear error, and leaves the store as it was; valid ones
//! that an exporter would not write (events out of order) are accepted.

mod support;

use std::path::{Path, PathBuf};

use communs_protocol::limits::GENESIS_NONCE_BYTES;
use communs_protocol::manifest::License;
use communs_protocol::{
    BlobHash, Body, EventId, Genesis, Hash, Manifest, Revision, SecretKey, SignedEvent, Tree, TreeEntry, UnsignedEvent,
    ValidatedPath,
};
use support::{Node, noise, snapshot, write_files};

/// A bundle as spec/bundle.md lays it out, with whatever records it is given.
fn write_bundle(path: &Path, events: &[Vec<u8>], blobs: &[Blob]) {
    let mut bytes = b"communs-bundle/1\n".to_vec();
    let mut record = |kind: u8, payload: &[u8]| {
        bytes.push(kind);
        bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        bytes.extend_from_slice(payload);
    };
    for event in events {
        record(1, event);
    }
    for (hash, blob) in blobs {
        record(2, &[hash.as_bytes().as_slice(), blob].concat());
    }
    let digest = blake3::hash(&bytes);
    bytes.push(0);
    bytes.extend_from_slice(&32u64.to_be_bytes());
    bytes.extend_from_slice(digest.as_bytes());
    std::fs::write(path, bytes).expect("write bundle");
}

/// A blob: its hash and its bytes.
type Blob = (BlobHash, Vec<u8>);

fn blob(bytes: &[u8]) -> Blob {
    (BlobHash(Hash::of(bytes)), bytes.to_vec())
}

/// A tree of `(path, blob, size as the tree says)`, encoded as a blob.
fn tree(entries: &[(&str, &Blob, u64)]) -> Blob {
    let entries = entries
        .iter()
        .map(|(path, (hash, _), size)| TreeEntry {
            path: ValidatedPath::new(path).expect("valid path"),
            blob: *hash,
            size: *size,
            executable: false,
        })
        .collect();
    blob(&Tree::new(entries).expect("valid tree").encode())
}

/// Signs events of one design for a maker.
struct Maker {
    key: SecretKey,
}

impl Maker {
    fn new(seed: u8) -> Maker {
        Maker { key: SecretKey::from_bytes(&[seed; 32]) }
    }

    fn genesis(&self, name: &str) -> SignedEvent {
        UnsignedEvent {
            design: None,
            author: self.key.author(),
            parents: vec![],
            clock: 0,
            time: 1_700_000_000_000,
            body: Body::Genesis(Genesis {
                name: name.to_owned(),
                maintainers: vec![self.key.author()],
                threshold: 1,
                license: "CERN-OHL-S-2.0".into(),
                fork_of: None,
                nonce: [7; GENESIS_NONCE_BYTES],
            }),
        }
        .sign(&self.key)
        .expect("genesis")
    }

    /// An event on `parents`, with the clock they call for unless `clock`.
    fn child(&self, parents: &[&SignedEvent], body: Body, clock: Option<u64>) -> SignedEvent {
        let design = parents[0].design();
        UnsignedEvent {
            design: Some(design),
            author: self.key.author(),
            parents: parents.iter().map(|p| p.id()).collect(),
            clock: clock.unwrap_or_else(|| 1 + parents.iter().map(|p| p.clock()).max().unwrap_or(0)),
            time: 1_700_000_000_000,
            body,
        }
        .sign(&self.key)
        .expect("event")
    }

    fn revision(&self, parents: &[&SignedEvent], tree: &BlobHash, message: &str) -> SignedEvent {
        let body = Body::Revision(Revision {
            tree: *tree,
            manifest: Manifest::minimal("Hostile", License::all("CERN-OHL-S-2.0")),
            base: vec![],
            message: message.to_owned(),
        });
        self.child(parents, body, None)
    }
}

fn bytes_of(events: &[&SignedEvent]) -> Vec<Vec<u8>> {
    events.iter().map(|e| e.bytes().to_vec()).collect()
}

/// A fresh node, the bundle's path, and the run of its import.
struct Case {
    _dir: tempfile::TempDir,
    node: Node,
    bundle: PathBuf,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().expect("tmp");
        let node = Node::init(dir.path(), "home");
        let bundle = dir.path().join("hostile.communs");
        Case { node, bundle, _dir: dir }
    }

    fn import(&self) -> support::Run {
        self.node.run(&["bundle", "import", self.bundle.to_str().expect("utf-8")])
    }

    /// The import failed with `message`, and the store holds nothing and
    /// is sound.
    #[track_caller]
    fn refused(&self, message: &str) -> support::Run {
        let run = self.import().fails_with(1, message);
        let fsck = self.node.json(&["fsck"]);
        assert_eq!((fsck["events"].as_u64(), fsck["blobs"].as_u64()), (Some(0), Some(0)), "nothing stored: {fsck}");
        assert_eq!(fsck["problems"], serde_json::json!([]));
        run
    }
}

#[test]
fn a_tree_that_lies_about_a_file_size_is_refused_and_nothing_is_stored() {
    let maker = Maker::new(1);
    let small = blob(b"hello");
    let large = blob(&noise(1, 300_000));
    for (listed_small, listed_large, message) in [
        (999_999, 300_000, "says small.txt is 999999 bytes, but its blob"),
        (5, 0, "says scan.ply is 0 bytes, but its blob"),
    ] {
        let case = Case::new();
        let tree = tree(&[("small.txt", &small, listed_small), ("scan.ply", &large, listed_large)]);
        let genesis = maker.genesis("Liar");
        let revision = maker.revision(&[&genesis], &tree.0, "sizes that lie");
        write_bundle(&case.bundle, &bytes_of(&[&genesis, &revision]), &[tree, small.clone(), large.clone()]);
        let run = case.refused(message);
        assert!(run.stderr.contains(&small.0.to_string()) || run.stderr.contains(&large.0.to_string()), "{run:?}");
    }
}

#[test]
fn events_out_of_order_are_accepted_and_check_out_byte_for_byte() {
    let case = Case::new();
    let maker = Maker::new(2);
    let readme = blob(b"# Out of order\n");
    let part = blob(&noise(2, 40_000));
    let tree = tree(&[("README.md", &readme, 15), ("cad/part.stl", &part, 40_000)]);
    let genesis = maker.genesis("Out of order");
    let revision = maker.revision(&[&genesis], &tree.0, "first");
    let second = maker.revision(&[&revision], &tree.0, "second");
    // Children before parents, blobs before the trees that name them.
    write_bundle(
        &case.bundle,
        &bytes_of(&[&second, &revision, &genesis]),
        &[part.clone(), readme.clone(), tree.clone()],
    );
    let imported = case.node.json(&["bundle", "import", case.bundle.to_str().expect("utf-8")]);
    assert_eq!(imported["new_events"], 3);
    let out = case._dir.path().join("out");
    case.node.json(&["get", &genesis.design().to_string(), out.to_str().expect("utf-8")]);
    let expected = case._dir.path().join("expected");
    write_files(&expected, &[("README.md", &readme.1), ("cad/part.stl", &part.1)]);
    assert_eq!(snapshot(&out), snapshot(&expected));
    assert_eq!(case.node.json(&["fsck"])["problems"], serde_json::json!([]));
}

#[test]
fn a_blob_no_tree_names_is_refused_and_nothing_is_stored() {
    let case = Case::new();
    let maker = Maker::new(3);
    let file = blob(b"named\n");
    let tree = tree(&[("named.txt", &file, 6)]);
    let genesis = maker.genesis("Stowaway");
    let revision = maker.revision(&[&genesis], &tree.0, "one file");
    let stowaway = blob(&noise(3, 1_000));
    write_bundle(&case.bundle, &bytes_of(&[&genesis, &revision]), &[tree, file, stowaway.clone()]);
    let run = case.refused("is named by no tree of the bundle's revisions");
    assert!(run.stderr.contains(&stowaway.0.to_string()), "{run:?}");
}

#[test]
fn an_outsiders_approvals_are_refused_with_the_reason_and_nothing_is_stored() {
    let case = Case::new();
    let maker = Maker::new(5);
    let outsider = Maker::new(6);
    let file = blob(b"part\n");
    let tree = tree(&[("part.txt", &file, 5)]);
    let genesis = maker.genesis("Flooded");
    let revision = maker.revision(&[&genesis], &tree.0, "first");
    // Validly signed, each with the revision in its past: but their
    // author maintains nothing (governance.md, "Admission").
    let flood: Vec<SignedEvent> = (0..200)
        .map(|i| {
            let mut approval = outsider.child(&[&revision], Body::Approve { target: revision.id() }, None);
            if i > 0 {
                approval = UnsignedEvent { time: 1_700_000_000_000 + i, ..approval.event().clone() }
                    .sign(&outsider.key)
                    .expect("event");
            }
            approval
        })
        .collect();
    let mut events = vec![&genesis, &revision];
    events.extend(flood.iter());
    write_bundle(&case.bundle, &bytes_of(&events), &[tree, file]);
    case.refused("not a maintainer");
}

/// One hostile bundle per problem `fsck` reports, each refused at the door.
#[test]
fn import_refuses_whatever_fsck_would_report() {
    let maker = Maker::new(4);
    let file = blob(b"part\n");
    let good_tree = tree(&[("part.txt", &file, 5)]);
    let genesis = maker.genesis("Checked");
    let revision = maker.revision(&[&genesis], &good_tree.0, "fine");

    // bad-event: a signature that does not verify.
    let mut forged = revision.bytes().to_vec();
    *forged.last_mut().expect("bytes") ^= 1;
    let case = Case::new();
    write_bundle(&case.bundle, &[genesis.bytes().to_vec(), forged], &[good_tree.clone(), file.clone()]);
    case.refused("event 1 is invalid: the signature does not verify");

    // missing-parent: a parent neither the bundle nor the store holds.
    let absent = maker.child(&[&genesis], Body::Approve { target: genesis.id() }, None);
    let orphan = maker.child(&[&absent], Body::Approve { target: revision.id() }, None);
    let case = Case::new();
    write_bundle(&case.bundle, &bytes_of(&[&genesis, &revision, &orphan]), &[good_tree.clone(), file.clone()]);
    case.refused(&format!("names parent {}, which neither the bundle nor this store holds", absent.id()));

    // invalid-event: a clock that is not 1 + the parents' largest.
    let skewed = maker.child(&[&genesis], Body::Approve { target: genesis.id() }, Some(9));
    let case = Case::new();
    write_bundle(&case.bundle, &bytes_of(&[&genesis, &skewed]), &[]);
    case.refused("clock is 9, expected 1");

    // damaged-blob: bytes that do not hash to the name they are filed under.
    let case = Case::new();
    let damaged = (file.0, b"PART\n".to_vec());
    write_bundle(&case.bundle, &bytes_of(&[&genesis, &revision]), &[good_tree.clone(), damaged]);
    case.refused(&format!("blob {} does not match its hash", file.0));

    // bad-tree: a tree blob that is not a tree.
    let not_a_tree = blob(b"not a tree");
    let bad = maker.revision(&[&genesis], &not_a_tree.0, "no tree");
    let case = Case::new();
    write_bundle(&case.bundle, &bytes_of(&[&genesis, &bad]), &[not_a_tree]);
    case.refused(&format!("the tree of revision {} is invalid", bad.id()));

    // wrong-size: see a_tree_that_lies_about_a_file_size_is_refused_and_nothing_is_stored.
}

#[test]
fn a_cause_is_printed_once() {
    let case = Case::new();
    // An event nested 20 deep: the decoder gives up at its depth limit.
    let mut deep = vec![0x81; 20];
    deep.push(0x00);
    write_bundle(&case.bundle, &[deep], &[]);
    let run = case.refused("event 0 is invalid");
    assert_eq!(run.stderr.matches("nesting deeper than").count(), 1, "{run:?}");
    let json = case.node.run(&["--json", "bundle", "import", case.bundle.to_str().expect("utf-8")]);
    let error: serde_json::Value = serde_json::from_str(json.stderr.trim()).expect("a JSON error");
    let all = format!("{} {}", error["error"], error["causes"]);
    assert_eq!(all.matches("nesting deeper than").count(), 1, "{json:?}");
}

#[test]
fn a_relative_home_imports_and_exports() {
    let dir = tempfile::tempdir().expect("tmp");
    let alice = Node::init(dir.path(), "alice");
    let (design, _) = alice.publish(&support::small_design(dir.path(), "Relative"), &[]);
    let bundle = dir.path().join("relative.communs");
    alice.json(&["bundle", "export", &design, bundle.to_str().expect("utf-8")]);
    let relative = |args: &[&str]| {
        let output = std::process::Command::new(support::binary())
            .current_dir(dir.path())
            .args(["--home", "bob", "--json"])
            .args(args)
            .env_remove("COMMUNS_HOME")
            .output()
            .expect("communs runs");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON")
    };
    relative(&["init"]);
    assert_eq!(relative(&["bundle", "import", "relative.communs"])["new_events"], 2);
    relative(&["bundle", "export", &design, "again.communs"]);
    assert_eq!(std::fs::read(dir.path().join("again.communs")).expect("bundle"), std::fs::read(&bundle).expect("b"));
}

#[test]
fn several_designs_travel_in_one_bundle() {
    let dir = tempfile::tempdir().expect("tmp");
    let alice = Node::init(dir.path(), "alice");
    let folders: Vec<PathBuf> = ["One", "Two", "Three"].iter().map(|n| support::small_design(dir.path(), n)).collect();
    let designs: Vec<String> = folders.iter().map(|f| alice.publish(f, &[]).0).collect();
    let set = |value: &serde_json::Value| -> std::collections::BTreeSet<String> {
        value.as_array().expect("a list").iter().map(|d| d.as_str().expect("an id").to_owned()).collect()
    };
    let first_and_last: std::collections::BTreeSet<String> = [designs[0].clone(), designs[2].clone()].into();

    // Two of them by name, then all of them.
    let some = dir.path().join("some.communs");
    let exported = alice.json(&["bundle", "export", &designs[0], &designs[2], some.to_str().expect("utf-8")]);
    assert_eq!(set(&exported["designs"]), first_and_last);
    let all = dir.path().join("all.communs");
    alice.json(&["bundle", "export", "--all", all.to_str().expect("utf-8")]);

    let bob = Node::init(dir.path(), "bob");
    let imported = bob.json(&["bundle", "import", some.to_str().expect("utf-8")]);
    assert_eq!(set(&imported["designs"]), first_and_last);
    let imported = bob.json(&["bundle", "import", all.to_str().expect("utf-8")]);
    assert_eq!(imported["designs"].as_array().map(Vec::len), Some(3));
    assert_eq!(imported["new_events"], 2, "only the design `some` lacked is new");
    assert_eq!(bob.json(&["list"]), alice.json(&["list"]));
    for (i, design) in designs.iter().enumerate() {
        let out = dir.path().join(format!("out-{i}"));
        bob.json(&["get", design, out.to_str().expect("utf-8")]);
        let source = folders.iter().find(|f| snapshot(f) == snapshot(&out));
        assert!(source.is_some(), "design {design} checks out as one of the folders");
    }
    bob.json(&["fsck"]);
    bob.run(&["bundle", "export", "--all", &designs[0], "x.communs"]).fails_with(2, "not both");
    bob.run(&["bundle", "export", "x.communs"]).fails_with(2, "name the designs");
}

/// The signed events of a bundle file, in file order.
fn events_in(path: &Path) -> Vec<SignedEvent> {
    let bytes = std::fs::read(path).expect("bundle");
    let mut at = b"communs-bundle/1\n".len();
    let mut events = Vec::new();
    while at < bytes.len() {
        let kind = bytes[at];
        let len = u64::from_be_bytes(bytes[at + 1..at + 9].try_into().expect("8 bytes")) as usize;
        let payload = &bytes[at + 9..at + 9 + len];
        if kind == 1 {
            events.push(SignedEvent::decode(payload).expect("a valid event"));
        }
        at += 9 + len;
    }
    events
}

/// A stranger's flood of revisions, all valid, leaves at most the bound
/// stored (governance.md, "Unclaimed contributions"): the first ones in
/// causal order, whatever the bundle's order. The maintainer's node then
/// signs on its own events, not on the stranger's many heads; its approval
/// claims one, which frees a place that the same bundle fills again.
#[test]
fn a_strangers_flood_of_revisions_leaves_at_most_the_bound_stored() {
    use communs_protocol::limits::{MAX_PARENTS, MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR as BOUND};
    const FLOOD: u64 = 10_000;
    let case = Case::new();
    let folder = support::small_design(case._dir.path(), "Flooded");
    let (design, _) = case.node.publish(&folder, &[]);
    let own = case._dir.path().join("own.communs");
    case.node.json(&["bundle", "export", &design, own.to_str().expect("utf-8")]);
    let ours = events_in(&own);
    let revision = ours.iter().find(|e| matches!(e.body(), Body::Revision(_))).expect("the published revision");
    let Body::Revision(published) = revision.body() else { unreachable!("a revision") };

    // 10,000 revisions by one key, each on the maintainer's revision (so
    // each is a head), on files the node holds already: no blob to carry.
    let stranger = Maker::new(9);
    let flood: Vec<SignedEvent> = (0..FLOOD)
        .map(|i| {
            let body = Body::Revision(Revision { message: format!("flood {i}"), base: vec![], ..published.clone() });
            stranger.child(&[revision], body, None)
        })
        .collect();
    write_bundle(&case.bundle, &bytes_of(&flood.iter().rev().collect::<Vec<_>>()), &[]);
    let imported = case.node.json(&["bundle", "import", case.bundle.to_str().expect("utf-8")]);
    assert_eq!(imported["events"], FLOOD);
    assert_eq!(imported["new_events"], BOUND as u64, "only the bound is kept");

    let fsck = case.node.json(&["fsck"]);
    assert_eq!(fsck["events"].as_u64(), Some(2 + BOUND as u64), "{fsck}");
    assert_eq!(fsck["problems"], serde_json::json!([]));
    let mut first: Vec<EventId> = flood.iter().map(SignedEvent::id).collect();
    first.sort();
    first.truncate(BOUND);
    let status = case.node.json(&["status", &design]);
    let open: Vec<&str> =
        status["open"].as_array().expect("open").iter().map(|o| o["revision"].as_str().expect("id")).collect();
    let mut kept: Vec<String> = open.iter().map(|s| s.to_string()).collect();
    kept.sort();
    let mut expected: Vec<String> = first.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(kept, expected, "the first ones by (clock, id): all have the same clock");

    // The maintainer approves one: its approval names the target and its
    // own latest event, not 64 stranger heads.
    let target = first[BOUND / 2].to_string();
    case.node.json(&["approve", &design, &target]);
    let after = case._dir.path().join("after.communs");
    case.node.json(&["bundle", "export", &design, after.to_str().expect("utf-8")]);
    let approval =
        events_in(&after).into_iter().find(|e| matches!(e.body(), Body::Approve { .. })).expect("the approval");
    assert!(approval.parents().len() <= 2 && approval.parents().len() < MAX_PARENTS, "{:?}", approval.parents());
    assert!(approval.parents().contains(&first[BOUND / 2]));

    // Claimed, it leaves the stranger's bound: the next one in order fits.
    let again = case.node.json(&["bundle", "import", case.bundle.to_str().expect("utf-8")]);
    assert_eq!(again["new_events"], 1);
    let fsck = case.node.json(&["fsck"]);
    assert_eq!(fsck["events"].as_u64(), Some(2 + 1 + BOUND as u64 + 1), "{fsck}");
    assert_eq!(fsck["problems"], serde_json::json!([]));

    // Another key, 200 revisions each with a file of its own: only the
    // files of the revisions kept are stored.
    let blobs_before = fsck["blobs"].as_u64().expect("blobs");
    let other = Maker::new(10);
    let mut blobs = Vec::new();
    let flood: Vec<SignedEvent> = (0..200u64)
        .map(|i| {
            let file = blob(&noise(1_000 + i, 100));
            let tree = tree(&[("part.txt", &file, 100)]);
            let body =
                Body::Revision(Revision { tree: tree.0, base: vec![], message: format!("{i}"), ..published.clone() });
            blobs.extend([file, tree]);
            other.child(&[revision], body, None)
        })
        .collect();
    let bundle = case._dir.path().join("files.communs");
    write_bundle(&bundle, &bytes_of(&flood.iter().collect::<Vec<_>>()), &blobs);
    let imported = case.node.json(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(
        (imported["new_events"].as_u64(), imported["new_blobs"].as_u64()),
        (Some(BOUND as u64), Some(2 * BOUND as u64))
    );
    let fsck = case.node.json(&["fsck"]);
    assert_eq!(fsck["blobs"].as_u64(), Some(blobs_before + 2 * BOUND as u64), "{fsck}");
    assert_eq!(fsck["problems"], serde_json::json!([]));
}
