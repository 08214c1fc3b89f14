//! Governance between people with no network: three fablabs, each with its
//! own node, pass bundles around and reach the same canonical revision.

mod support;

use support::{Node, small_design, write_files};

fn exchange(from: &Node, to: &Node, design: &str, dir: &std::path::Path) {
    let file = dir.join(format!("{}.communs", rand_suffix()));
    from.json(&["bundle", "export", design, file.to_str().expect("utf-8")]);
    to.json(&["bundle", "import", file.to_str().expect("utf-8")]);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos()
}

fn id_of(node: &Node) -> String {
    node.json(&["id"])["author"].as_str().expect("author").to_owned()
}

#[test]
fn two_of_three_maintainers_accept_a_revision_and_a_new_maintainer_over_bundles() {
    let dir = tempfile::tempdir().expect("tmp");
    let (alice, bob, carol, dave) = (
        Node::init(dir.path(), "alice"),
        Node::init(dir.path(), "bob"),
        Node::init(dir.path(), "carol"),
        Node::init(dir.path(), "dave"),
    );
    let folder = small_design(dir.path(), "Shield");
    let (bob_id, carol_id, dave_id) = (id_of(&bob), id_of(&carol), id_of(&dave));
    let (design, r1) =
        alice.publish(&folder, &["--maintainer", &bob_id, "--maintainer", &carol_id, "--threshold", "2"]);

    let status = alice.json(&["status", &design]);
    assert_eq!(status["canonical"], serde_json::Value::Null, "one approval of two");
    assert_eq!(status["open"][0]["revision"], r1.as_str());
    assert_eq!(status["open"][0]["approvals"].as_array().expect("approvals").len(), 1);
    assert_eq!(status["threshold"], 2);
    assert_eq!(status["maintainers"].as_array().expect("maintainers").len(), 3);
    alice.run(&["show", &design]).fails_with(1, "no accepted revision yet");

    exchange(&alice, &bob, &design, dir.path());
    bob.json(&["approve", &design, &r1]);
    exchange(&bob, &alice, &design, dir.path());
    for node in [&alice, &bob] {
        let status = node.json(&["status", &design]);
        assert_eq!(status["canonical"], r1.as_str());
        assert_eq!(status["open"], serde_json::json!([]));
    }
    assert_eq!(alice.json(&["show", &design])["revision"], r1.as_str(), "show uses the canonical head");

    // Dave is not a maintainer: his approval would not count.
    exchange(&alice, &dave, &design, dir.path());
    dave.run(&["approve", &design, &r1]).fails_with(1, "not a maintainer");
    // Dave contributes a revision: an open contribution.
    let work = dir.path().join("dave-work");
    dave.json(&["get", &design, work.to_str().expect("utf-8")]);
    write_files(&work, &[("cad/part.scad", b"cube([10, 22, 3]);\n")]);
    let (_, r2) = dave.publish(&work, &["-m", "wider clip"]);

    // Alice proposes Dave as a maintainer; Carol approves: 2 of 3.
    let proposal = alice.json(&["propose", &design, "add-maintainer", &dave_id]);
    let proposal_id = proposal["event"].as_str().expect("event").to_owned();
    assert_eq!(proposal["status"]["proposals"][0]["outcome"], "pending");
    exchange(&alice, &carol, &design, dir.path());
    exchange(&dave, &carol, &design, dir.path());
    let approved = carol.json(&["approve", &design, &proposal_id]);
    assert_eq!(approved["status"]["maintainers"].as_array().expect("maintainers").len(), 4);
    assert_eq!(approved["status"]["open"][0]["revision"], r2.as_str());

    // Carol approves Dave's revision; with Dave's own it reaches 2.
    let approved = carol.json(&["approve", &design, &r2]);
    assert_eq!(approved["status"]["canonical"], r2.as_str());

    // Everyone converges once the bundles have gone round.
    for (from, to) in [(&carol, &alice), (&carol, &bob), (&carol, &dave)] {
        exchange(from, to, &design, dir.path());
    }
    let reference = carol.json(&["status", &design]);
    for node in [&alice, &bob, &dave] {
        assert_eq!(node.json(&["status", &design]), reference);
    }
}

#[test]
fn retracting_an_approval_moves_the_canonical_head_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let (alice, bob) = (Node::init(dir.path(), "alice"), Node::init(dir.path(), "bob"));
    let folder = small_design(dir.path(), "Bracket");
    let (design, r1) = alice.publish(&folder, &["--maintainer", &id_of(&bob), "--threshold", "2"]);
    exchange(&alice, &bob, &design, dir.path());
    bob.json(&["approve", &design, &r1]);
    exchange(&bob, &alice, &design, dir.path());
    write_files(&folder, &[("cad/part.scad", b"cube(2);\n")]);
    let (_, r2) = alice.publish(&folder, &[]);
    exchange(&alice, &bob, &design, dir.path());
    assert_eq!(bob.json(&["approve", &design, &r2])["status"]["canonical"], r2.as_str());
    let retracted = bob.json(&["retract", &design, &r2]);
    assert_eq!(retracted["status"]["canonical"], r1.as_str());
    let log = bob.json(&["log", &design]);
    let genesis = log.as_array().expect("log").last().expect("genesis")["id"].as_str().expect("id").to_owned();
    bob.run(&["retract", &design, &genesis]).fails_with(1, "not a revision or a proposal");
}

#[test]
fn status_of_an_unknown_design_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let (alice, bob) = (Node::init(dir.path(), "alice"), Node::init(dir.path(), "bob"));
    let (design, _) = alice.publish(&small_design(dir.path(), "Elsewhere"), &[]);
    bob.run(&["status", &design]).fails_with(1, "not in this store");
}

#[test]
fn the_local_policy_log_pins_mutes_and_follows_with_reasons() {
    let dir = tempfile::tempdir().expect("tmp");
    let (alice, mallory) = (Node::init(dir.path(), "alice"), Node::init(dir.path(), "mallory"));
    let folder = small_design(dir.path(), "Policy");
    let (design, r1) = alice.publish(&folder, &[]);
    write_files(&folder, &[("cad/part.scad", b"cube(3);\n")]);
    let (_, r2) = alice.publish(&folder, &[]);

    // Pin the older revision for this node's checkouts.
    alice.json(&["pin", &design, &r1, "--reason", "r2 does not print on our Prusa"]);
    assert_eq!(alice.json(&["show", &design])["revision"], r1.as_str());
    assert_eq!(alice.json(&["status", &design])["canonical"], r2.as_str(), "governance is unchanged");
    alice.json(&["unpin", &design]);
    assert_eq!(alice.json(&["show", &design])["revision"], r2.as_str());
    alice.run(&["pin", &design, &design.replace("design1", "event1")]).fails_with(2, "event id");

    // A contribution from a muted author is hidden from status.
    exchange(&alice, &mallory, &design, dir.path());
    let work = dir.path().join("mallory-work");
    mallory.json(&["get", &design, work.to_str().expect("utf-8")]);
    write_files(&work, &[("spam.txt", b"buy now")]);
    mallory.publish(&work, &[]);
    exchange(&mallory, &alice, &design, dir.path());
    assert_eq!(alice.json(&["status", &design])["open"].as_array().expect("open").len(), 1);
    alice.json(&["mute", &id_of(&mallory), "--reason", "spam"]);
    let status = alice.json(&["status", &design]);
    assert_eq!(status["open"], serde_json::json!([]));
    assert_eq!(status["muted_open"], 1);

    alice.json(&["follow", &design]);
    let policy = alice.json(&["policy"]);
    let actions: Vec<&str> =
        policy["log"].as_array().expect("log").iter().map(|e| e["action"].as_str().expect("a")).collect();
    assert_eq!(actions, ["pin", "unpin", "mute", "follow"]);
    assert_eq!(policy["log"][0]["reason"], "r2 does not print on our Prusa");
    assert_eq!(policy["followed"][0], design.as_str());
    assert_eq!(policy["muted"].as_array().expect("muted").len(), 1);
    assert_eq!(policy["pins"], serde_json::json!([]));

    // Following a design the store does not hold is recorded: a running
    // node fetches it when a peer has it. It is followed, not present.
    let other = Node::init(dir.path(), "other");
    let (unknown, _) = other.publish(&small_design(dir.path(), "Unknown"), &[]);
    alice.json(&["follow", &unknown]);
    let policy = alice.json(&["policy"]);
    assert!(policy["followed"].as_array().expect("followed").iter().any(|d| d == unknown.as_str()));
    alice.run(&["show", &unknown]).fails_with(1, "not in this store");
}

/// Copies an example design into `to` (files only).
fn example(name: &str, to: &std::path::Path) -> std::path::PathBuf {
    let source = support::examples_dir().join(name);
    let folder = to.join(name);
    for (path, contents) in support::snapshot(&source) {
        write_files(&folder, &[(path.as_str(), contents.as_slice())]);
    }
    folder
}

#[test]
fn diverging_maintainers_show_canonical_and_competing_heads_on_an_example_design() {
    let dir = tempfile::tempdir().expect("tmp");
    let (alice, bob) = (Node::init(dir.path(), "alice"), Node::init(dir.path(), "bob"));
    let folder = example("face-shield-headband", dir.path());
    let (design, r1) = alice.publish(&folder, &["--maintainer", &id_of(&bob), "--threshold", "1"]);
    exchange(&alice, &bob, &design, dir.path());

    // Each maintainer changes the design their own way, offline.
    write_files(&folder, &[("NOTES.md", b"Alice: 0.5 mm PETG visors fog less.\n")]);
    let (_, r2a) = alice.publish(&folder, &["-m", "Alice's notes"]);
    let bob_work = dir.path().join("bob-work");
    bob.json(&["get", &design, bob_work.to_str().expect("utf-8")]);
    write_files(&bob_work, &[("NOTES.md", b"Bob: print the band at 0.3 mm layers.\n")]);
    let (_, r2b) = bob.publish(&bob_work, &["-m", "Bob's notes"]);
    exchange(&alice, &bob, &design, dir.path());
    exchange(&bob, &alice, &design, dir.path());

    let status = alice.json(&["status", &design]);
    assert_eq!(status, bob.json(&["status", &design]), "both nodes agree");
    let canonical = status["canonical"].as_str().expect("a canonical head").to_owned();
    let competing = status["competing"][0].as_str().expect("a competing head").to_owned();
    let mut heads = vec![canonical.clone(), competing.clone()];
    heads.sort();
    let mut expected = vec![r2a.clone(), r2b.clone()];
    expected.sort();
    assert_eq!(heads, expected);
    assert!(status["competing_heads"][0]["lost"].as_str().is_some());
    let text = alice.run(&["status", &design]).ok().stdout;
    assert!(text.contains("competing"), "{text}");

    // One maintainer settles it: Alice approves Bob's revision too, which
    // now has two approvals and wins.
    alice.json(&["approve", &design, &r2b]);
    let settled = alice.json(&["status", &design]);
    assert_eq!(settled["canonical"], r2b.as_str());
    assert_eq!(settled["competing_heads"][0]["lost"], "fewer approvals");
    assert_eq!(alice.json(&["show", &design])["revision"], r2b.as_str());
    let _ = r1;
}
