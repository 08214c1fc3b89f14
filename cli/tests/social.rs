//! Comments, make reports, profiles and names: on one store, and across
//! real nodes over loopback.

mod support;

use std::path::Path;

use serde_json::Value;
use support::daemon::{Daemon, eventually};
use support::{Node, noise, small_design};

fn photo(dir: &Path, name: &str, len: usize) -> String {
    let path = dir.join(name);
    std::fs::write(&path, noise(len as u64, len)).expect("photo");
    path.to_str().expect("utf-8").to_owned()
}

fn show(node: &Node, design: &str) -> Value {
    node.json(&["show", design])
}

fn who_is(node: &Node, author: &str) -> Value {
    node.json(&["author", author])
}

#[test]
fn a_maker_comments_answers_reports_a_make_and_names_show_beside_ids() {
    let dir = tempfile::tempdir().expect("tmp");
    let ada = Node { home: dir.path().join("ada") };
    let init = ada.json(&["init", "--name", "Ada Lovelace"]);
    let author = init["author"].as_str().expect("author").to_owned();
    let (design, revision) = ada.publish(&small_design(dir.path(), "Spool holder"), &["--license", "CERN-OHL-S-2.0"]);

    // The first profile comes with `init --name`, and names show beside ids.
    assert_eq!(who_is(&ada, &author)["profile"]["name"], "Ada Lovelace");
    let text = ada.run(&["show", &design]).ok().stdout;
    assert!(text.contains(&format!("Ada Lovelace ({}…)", &author[..14])), "{text}");

    let band = photo(dir.path(), "band.jpg", 20_000);
    let first = ada.json(&["comment", &design, "-m", "Printed at 0.3 mm, **holds**.", "--attach", &band]);
    let first = first["event"].as_str().expect("event").to_owned();
    ada.json(&["comment", &design, "--on", &first, "-m", "Same with PLA."]);
    let threads = ada.json(&["comments", &design]);
    let top = &threads["comments"][0];
    assert_eq!(top["text"], "Printed at 0.3 mm, **holds**.");
    assert_eq!(top["attachments"][0]["name"], "band.jpg");
    assert_eq!(top["attachments"][0]["size"], 20_000);
    assert_eq!(top["replies"][0]["text"], "Same with PLA.", "{threads}");
    assert_eq!(threads["names"][&author], "Ada Lovelace");

    let front = photo(dir.path(), "front.jpg", 30_000);
    let made = ada.json(&[
        "made",
        &design,
        "--outcome",
        "worked-with-changes",
        "--material",
        "PETG",
        "--machine",
        "Prusa MK4",
        "--setting",
        "layer height=0.2 mm",
        "--photo",
        &front,
        "-m",
        "Widened the clip.",
    ]);
    assert!(made["event"].is_string());
    let view = show(&ada, &design);
    assert_eq!(view["makes"]["worked_with_changes"], 1, "{view}");
    assert_eq!(view["comments"], 2);
    let list = ada.json(&["list"]);
    assert_eq!(list[0]["makes"]["worked_with_changes"], 1);
    assert_eq!(list[0]["canonical_makes"]["worked_with_changes"], 1);
    let reports = ada.json(&["makes", &design]);
    assert_eq!(reports["reports"][0]["settings"]["layer height"], "0.2 mm");
    assert_eq!(reports["reports"][0]["revision"], revision.as_str());
    // The photos are blobs the store keeps: gc frees none of them.
    ada.json(&["gc"]);
    assert_eq!(ada.json(&["fsck"])["ok"], true);
    assert_eq!(ada.json(&["gc"])["freed_blobs"], 0);

    // This node's own name for an author wins over their profile.
    ada.json(&["name", &author, "Ada (fablab)"]);
    assert_eq!(who_is(&ada, &author)["shown_name"], "Ada (fablab)");
    assert_eq!(ada.json(&["comments", &design])["names"][&author], "Ada (fablab)");
    ada.json(&["name", &author, "--forget"]);
    assert_eq!(who_is(&ada, &author)["shown_name"], "Ada Lovelace");
}

#[test]
fn bad_comments_make_reports_and_profiles_are_refused_with_a_reason_and_nothing_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "n");
    let (design, _) = node.publish(&small_design(dir.path(), "Enclosure"), &["--license", "MIT"]);
    let events = || node.json(&["log", &design]).as_array().expect("log").len();
    let before = events();

    let long = "x".repeat(8 * 1024 + 1);
    node.run(&["comment", &design, "-m", &long]).fails_with(1, "comment.text: 8193 bytes, over the limit of 8192");
    node.run(&["comment", &design, "-m", "   "]).fails_with(1, "comment.text: must not be empty");
    // A revision of another design is not one of this design's.
    let (_, elsewhere) = node.publish(&small_design(dir.path(), "Other"), &["--license", "MIT"]);
    node.run(&["made", &format!("{design}@{elsewhere}"), "--outcome", "worked"]).fails_with(1, "has no revision");
    // The genesis is an event of the design, not a revision.
    let log = node.json(&["log", &design]);
    let genesis = log.as_array().expect("log").last().expect("genesis")["id"].as_str().expect("id").to_owned();
    node.run(&["made", &format!("{design}@{genesis}"), "--outcome", "worked"]).fails_with(1, "is not a revision");
    let huge = photo(dir.path(), "huge.jpg", 16 * 1024 * 1024 + 1);
    node.run(&["comment", &design, "-m", "see photo", "--attach", &huge]).fails_with(1, "over the limit");
    assert_eq!(events(), before, "nothing stored");

    let avatar = dir.path().join("avatar.png");
    let file = std::fs::File::create(&avatar).expect("avatar");
    file.set_len(50 * 1000 * 1000).expect("a 50 MB avatar");
    let avatar = avatar.to_str().expect("utf-8");
    node.run(&["profile", "set", "--name", "Mallory", "--avatar", avatar]).fails_with(1, "over the limit of 1048576");
    node.run(&["profile", "set", "--name", "Mallory", "--link", "javascript:alert(1)"]).fails_with(1, "profile.links");
    node.run(&["profile", "set", "--name", "Ma\u{1b}[2Jllory"]).fails_with(1, "control character");
    let me = node.json(&["id"])["author"].as_str().expect("author").to_owned();
    assert_eq!(who_is(&node, &me)["profile"], Value::Null, "no profile stored");
    node.run(&["name", &me, "two\nlines"]).fails_with(1, "one line");
    assert_eq!(node.json(&["fsck"])["ok"], true);
}

#[test]
fn comments_make_reports_and_profiles_travel_between_nodes() {
    let dir = tempfile::tempdir().expect("tmp");
    let a_node = Node { home: dir.path().join("a") };
    a_node.json(&["init", "--name", "Ada Lovelace"]);
    let a = Daemon::start(&a_node, &["--no-dht"]);
    let folder = small_design(dir.path(), "Face shield");
    let (design, _) = a.node.publish(&folder, &["--license", "CERN-OHL-S-2.0"]);
    let ada = a.node.json(&["id"])["author"].as_str().expect("author").to_owned();

    // B follows the design: A's profile comes with it, by catch-up.
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    b.node.json(&["follow", &design]);
    eventually(20, "b knows ada's name", || who_is(&b.node, &ada)["shown_name"] == "Ada Lovelace");

    // C, connected to B only, reports a make with a photo: it reaches A.
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr, "--no-dht"]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));
    c.node.json(&["follow", &design]);
    eventually(20, "c holds the design", || c.node.run(&["show", &design]).code == 0);
    let front = photo(dir.path(), "front.jpg", 40_000);
    c.node.json(&["made", &design, "--outcome", "worked", "--material", "PETG", "--photo", &front]);
    c.node.json(&["profile", "set", "--name", "Charlie", "--place", "Fablab Lyon"]);
    eventually(20, "a's show counts c's make", || show(&a.node, &design)["makes"]["worked"] == 1);
    let charlie = c.node.json(&["id"])["author"].as_str().expect("author").to_owned();
    // The photo is fetched by the nodes keeping the design.
    assert_eq!(a.node.json(&["makes", &design])["reports"][0]["photos"][0]["size"], 40_000);
    eventually(30, "a fetched c's photo", || {
        let fsck = a.node.json(&["fsck"]);
        fsck["ok"] == true && fsck["absent_blobs"] == 0
    });

    // A profile change reaches every node that holds one of the author's
    // designs, by gossip.
    eventually(20, "a knows charlie's name", || who_is(&a.node, &charlie)["shown_name"] == "Charlie");
    a.node.json(&["profile", "set", "--name", "Ada L.", "--bio", "Face shields at the fablab."]);
    eventually(20, "b sees ada's new name", || who_is(&b.node, &ada)["shown_name"] == "Ada L.");
    eventually(20, "c sees ada's new name", || who_is(&c.node, &ada)["shown_name"] == "Ada L.");
    // And a comment written on A reaches C, with its author's name.
    a.node.json(&["comment", &design, "-m", "Thanks for the report!"]);
    eventually(20, "c has a's comment", || {
        let threads = c.node.json(&["comments", &design]);
        threads["comments"][0]["text"] == "Thanks for the report!" && threads["names"][&ada] == "Ada L."
    });
}

#[test]
fn a_newcomer_finds_a_design_by_text_follows_it_comments_and_reports_a_make_without_typing_an_id() {
    let dir = tempfile::tempdir().expect("tmp");
    let a_node = Node { home: dir.path().join("a") };
    a_node.json(&["init", "--name", "Ada Lovelace"]);
    let a = Daemon::start(&a_node, &[]);
    // A copy: publishing writes the folder's `.communs` marker.
    let source = support::examples_dir().join("../corpus/solar-food-dryer");
    let folder = dir.path().join("solar-food-dryer");
    std::fs::create_dir_all(&folder).expect("folder");
    for entry in std::fs::read_dir(&source).expect("the corpus design") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), folder.join(entry.file_name())).expect("copy");
    }
    let (design, _) = a.node.publish(&folder, &["-m", "First version"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    // The newcomer knows only B, and no design id.
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));

    // Asked of its peers, B answers from its catalog (A announced the
    // design to it); C's own catalog learns it too.
    let mut found = Value::Null;
    eventually(30, "c finds the dryer by text on the network", || {
        found = c.node.json(&["search", "--network", "solar", "dryer"]);
        found["hits"][0]["name"].as_str().is_some_and(|n| n.contains("dryer") || n.contains("Dryer"))
    });
    let id = found["hits"][0]["design"].as_str().expect("an id read from the results").to_owned();
    assert_eq!(id, design, "{found}");
    assert!(found["peers_asked"].as_u64().is_some_and(|n| n >= 1), "{found}");

    // C follows what it found, gets it, comments and reports a make.
    c.node.json(&["follow", &id]);
    eventually(30, "c holds the design", || c.node.run(&["show", &id]).code == 0);
    let out = dir.path().join("dryer");
    c.node.json(&["get", &id, out.to_str().expect("utf-8")]);
    c.node.json(&["comment", &id, "-m", "Built one for the community garden."]);
    let photo = photo(dir.path(), "dryer.jpg", 25_000);
    c.node.json(&["made", &id, "--outcome", "worked", "--material", "plywood", "--photo", &photo]);
    eventually(30, "a sees c's make and comment", || {
        show(&a.node, &design)["makes"]["worked"] == 1 && show(&a.node, &design)["comments"] == 1
    });
}
