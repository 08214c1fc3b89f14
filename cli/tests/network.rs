//! Nodes on a network: real `communs node run` processes on loopback, each
//! with its own store, driven through the CLI (which talks to each running
//! node through its local API).
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

mod support;

use std::path::Path;

use serde_json::Value;
use support::daemon::{Daemon, eventually};
use support::{Node, small_design, snapshot, write_files};

fn status(node: &Node, design: &str) -> Value {
    node.json(&["status", design])
}

fn canonical(node: &Node, design: &str) -> Option<String> {
    let run = node.run(&["--json", "status", design]);
    if run.code != 0 {
        return None;
    }
    run.json()["canonical"].as_str().map(str::to_owned)
}

fn log_len(node: &Node, design: &str) -> usize {
    let run = node.run(&["--json", "log", design, "--limit", "100000"]);
    if run.code != 0 {
        return 0;
    }
    run.json().as_array().map_or(0, Vec::len)
}

/// Copies an example design into `to` (files only).
fn example(name: &str, to: &Path) -> std::path::PathBuf {
    let source = support::examples_dir().join(name);
    let folder = to.join(name);
    for (path, contents) in snapshot(&source) {
        write_files(&folder, &[(&path, &contents)]);
    }
    folder
}

#[test]
fn a_design_travels_from_a_to_b_and_a_later_revision_reaches_c_through_b() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &[]);
    let folder = example("face-shield-headband", dir.path());
    // While a node runs, the CLI publishes through it.
    let (design, _) = a.node.publish(&folder, &["-m", "First version"]);

    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    eventually(10, "b is connected to a", || b.peers().contains(&a.peer_id()));
    let followed = b.node.json(&["follow", &design]);
    assert_eq!(followed["present"], true, "{followed}");
    let out = dir.path().join("b-checkout");
    b.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder), "b's checkout differs from a's folder");

    // C knows only B (no DHT, so it does not find A by itself).
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr, "--no-dht"]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));
    c.node.json(&["follow", &design]);
    assert_eq!(c.peers(), vec![b.peer_id()], "c must be connected to b only");

    // A later revision on A reaches C through B's gossip.
    write_files(&folder, &[("README.md", b"# Face shield headband\n\nSecond version: wider band.\n")]);
    let (_, second) = a.node.publish(&folder, &["-m", "Wider band"]);
    eventually(10, "c sees a's second revision as canonical", || {
        canonical(&c.node, &design).as_deref() == Some(&second)
    });
    assert_eq!(c.peers(), vec![b.peer_id()], "c got it through b, not from a directly");
    assert_eq!(status(&c.node, &design)["canonical"], status(&a.node, &design)["canonical"]);
    // And its files, from B: B's own `get` first makes sure B holds them
    // (fetching from A what its background fetch as a follower has not yet).
    let b_out = dir.path().join("b-checkout-2");
    b.node.json(&["get", &design, b_out.to_str().expect("utf-8")]);
    let c_out = dir.path().join("c-checkout");
    c.node.json(&["get", &design, c_out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&c_out), snapshot(&folder));
}

#[test]
fn a_node_that_was_offline_catches_up_200_events_without_a_new_publish() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let folder = small_design(dir.path(), "Spool holder");
    let (design, _) = a.node.publish(&folder, &["-m", "v1"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    b.node.json(&["follow", &design]);
    assert_eq!(log_len(&b.node, &design), 2);
    let b_home = b.stop();

    // 200 events while B is away: revisions, and retractions and
    // approvals of them.
    let mut revisions = Vec::new();
    for i in 0..180 {
        write_files(&folder, &[("cad/part.scad", format!("cube([10, 20, {i}]);\n").as_bytes())]);
        let (_, revision) = a.node.publish(&folder, &["-m", &format!("v{}", i + 2)]);
        revisions.push(revision);
    }
    for revision in revisions.iter().rev().take(10) {
        a.node.json(&["retract", &design, revision]);
        a.node.json(&["approve", &design, revision]);
    }
    let expected = log_len(&a.node, &design);
    assert_eq!(expected, 202);

    let b = Daemon::start(&b_home, &["--bootstrap", &a.addr, "--no-dht"]);
    eventually(30, "b has every event of a", || log_len(&b.node, &design) == expected);
    assert_eq!(status(&b.node, &design), status(&a.node, &design));
    assert_eq!(
        b.node.json(&["log", &design, "--limit", "100000"]),
        a.node.json(&["log", &design, "--limit", "100000"])
    );
}

/// A peer that went away and came back on the same address is dialled
/// again within seconds, with no command; meanwhile `sync` names it, says
/// why it could not reach it, and fails since it reached no one. Alone,
/// `sync` fails too (it used to say "Caught up with 0 peers" and exit 0).
#[test]
fn a_peer_that_comes_back_is_redialled_and_sync_names_the_peers_it_could_not_reach() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let lone = Daemon::start(&Node::init(dir.path(), "lone"), &["--no-dht"]);
    lone.node.run(&["sync"]).fails_with(1, "no peer to catch up with");

    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    let a_id = a.peer_id();
    eventually(10, "b is connected to a", || b.peers().contains(&a_id));
    let text = b.node.run(&["sync"]).ok();
    assert!(text.stdout.starts_with("Caught up with 1 peers:"), "{text:?}");

    // a stops: b's next sync names it and fails.
    let port = a.addr.split('/').nth(4).expect("a's port").to_owned();
    let a_home = a.stop();
    eventually(10, "b saw a go", || b.peers().is_empty());
    let run = b.node.run(&["--json", "sync"]).fails_with(1, "could not catch up with any peer");
    let failures = run.json()["catch_up"]["failures"].clone();
    assert_eq!(failures.as_array().map(Vec::len), Some(1), "{run:?}");
    assert_eq!(failures[0]["peer_id"], a_id.as_str());
    assert!(failures[0]["reason"].as_str().is_some_and(|r| r.starts_with("cannot connect")), "{run:?}");
    let text = b.node.run(&["sync"]).fails_with(1, "could not catch up with any peer");
    assert!(text.stderr.contains(&format!("warning: peer {a_id}: cannot connect")), "{text:?}");
    assert_eq!(b.node.json(&["node", "status"])["redialling"], 1);

    // a comes back on the same port, a while later: b dials it again by
    // itself (its back-off is at most 7 s).
    std::thread::sleep(std::time::Duration::from_secs(12));
    let a = Daemon::start(&a_home, &["--no-dht", "--listen", &format!("/ip4/127.0.0.1/tcp/{port}")]);
    let back = std::time::Instant::now();
    eventually(12, "b redialled a", || b.peers().contains(&a_id));
    assert!(back.elapsed().as_secs() < 10, "reconnected {:?} after a came back", back.elapsed());
    assert_eq!(b.node.json(&["node", "status"])["redialling"], 0);
    drop(a);
}

/// A `get` asks the design's files of the peer that sent its events, not
/// of the connected peers that lack it (it used to try each peer six times
/// over about 1.2 s before the next: 7.7 to 10.1 s for 3.3 MB on a LAN of
/// 8 nodes with one seeder).
#[test]
fn files_are_asked_first_of_the_peer_that_holds_the_design() {
    let dir = tempfile::tempdir().expect("tmp");
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht"]);
    let folder = small_design(dir.path(), "Face shield");
    write_files(&folder, &[("cad/visor.stl", &support::noise(7, 3_300_000)), ("cad/strap.stl", b"solid strap\n")]);
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let empty: Vec<Daemon> = ["empty1", "empty2", "empty3"]
        .iter()
        .map(|n| Daemon::start(&Node::init(dir.path(), n), &["--no-dht"]))
        .collect();
    let mut args = vec!["--no-dht"];
    for peer in &empty {
        args.extend(["--bootstrap", &peer.addr]);
    }
    args.extend(["--bootstrap", &seeder.addr]);
    let getter = Daemon::start(&Node::init(dir.path(), "getter"), &args);
    eventually(10, "the getter is connected to all four", || getter.peers().len() == 4);

    let out = dir.path().join("out");
    getter.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder));
    let log = support::daemon::log(&getter.node);
    for peer in &empty {
        let id = peer.peer_id();
        assert!(!log.contains(&format!("from {id}")) && !log.contains(&format!("stream to {id}")), "asked {id}: {log}");
    }
}

/// SIGTERM while a `get` runs on the node: the node logs "stopping" at
/// once and exits within 2 s, the `get` says the node stopped, and the
/// store is sound (what the get stored stays; it may be taken up again).
#[test]
fn a_node_told_to_stop_during_a_long_get_exits_within_2_s_with_its_store_sound() {
    let dir = tempfile::tempdir().expect("tmp");
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht"]);
    let folder = small_design(dir.path(), "Laser-cut frame");
    // Zeros, sparse on disk here: the stores hold 400 MB, which a debug
    // build takes seconds to move.
    let big = std::fs::File::create(folder.join("cad/frame.dxf")).expect("file");
    big.set_len(400 << 20).expect("400 MB");
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let mut getter = Daemon::start(&Node::init(dir.path(), "getter"), &["--bootstrap", &seeder.addr, "--no-dht"]);
    eventually(10, "the getter is connected", || getter.peers().len() == 1);

    let out = dir.path().join("out");
    let get = getter
        .node
        .command(&["get", &design, out.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("get starts");
    // Under way: some of the file is in the getter's store.
    let blobs = getter.node.home.join("store/blobs");
    eventually(30, "the transfer started", || support::allocated_bytes(&blobs) > 8 << 20);

    let signalled = std::time::Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(getter.child.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = getter.child.try_wait().expect("wait") {
            break status;
        }
        assert!(signalled.elapsed().as_secs() < 10, "the node did not stop: {}", support::daemon::log(&getter.node));
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    let log = support::daemon::log(&getter.node);
    assert!(status.success(), "{status}: {log}");
    assert!(took.as_millis() < 2000, "stopped {took:?} after SIGTERM: {log}");
    assert!(log.contains("stopping"), "{log}");

    let got = get.wait_with_output().expect("get ends");
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert_eq!(got.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the node stopped"), "{stderr}");
    getter.node.run(&["fsck"]).ok();
}

#[test]
fn two_partitions_that_decided_differently_converge_when_they_reconnect() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (Node::init(dir.path(), "a"), Node::init(dir.path(), "b"));
    let b_author = b.json(&["id"])["author"].as_str().expect("author").to_owned();
    let a_author = a.json(&["id"])["author"].as_str().expect("author").to_owned();
    let folder = small_design(dir.path(), "Bench vice");
    let (design, _) = a.publish(&folder, &["--maintainer", &b_author, "-m", "v1"]);

    // Everyone gets the design while connected.
    let a = Daemon::start(&a, &["--no-dht"]);
    let b = Daemon::start(&b, &["--bootstrap", &a.addr, "--no-dht"]);
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &a.addr, "--no-dht"]);
    let d = Daemon::start(&Node::init(dir.path(), "d"), &["--bootstrap", &b.addr, "--no-dht"]);
    for node in [&b, &c, &d] {
        node.node.json(&["follow", &design]);
    }
    let (a, b, c, d) = (a.stop(), b.stop(), c.stop(), d.stop());

    // Partition: {A, C} and {B, D}. Each maintainer removes the other and
    // publishes a revision of their own.
    let a = Daemon::start(&a, &["--no-dht"]);
    let c = Daemon::start(&c, &["--bootstrap", &a.addr, "--no-dht"]);
    let b = Daemon::start(&b, &["--no-dht"]);
    let d = Daemon::start(&d, &["--bootstrap", &b.addr, "--no-dht"]);
    a.node.json(&["propose", &design, "remove-maintainer", &b_author]);
    b.node.json(&["propose", &design, "remove-maintainer", &a_author]);
    write_files(&folder, &[("cad/part.scad", b"cube([12, 20, 3]);\n")]);
    a.node.json(&["publish", folder.to_str().expect("utf-8"), "--design", &design, "-m", "A's way"]);
    let b_folder = small_design(&dir.path().join("b-side"), "Bench vice");
    write_files(&b_folder, &[("cad/part.scad", b"cube([10, 25, 3]);\n")]);
    b.node.json(&["publish", b_folder.to_str().expect("utf-8"), "--design", &design, "-m", "B's way"]);
    eventually(10, "c has a's decisions", || log_len(&c.node, &design) == log_len(&a.node, &design));
    eventually(10, "d has b's decisions", || log_len(&d.node, &design) == log_len(&b.node, &design));
    assert_ne!(status(&a.node, &design), status(&b.node, &design), "the partitions disagree");

    // Reconnect: B dials A. Everyone converges to one state.
    let b = Daemon::start(&b.stop(), &["--bootstrap", &a.addr, "--bootstrap", &c.addr, "--no-dht"]);
    let d = Daemon::start(&d.stop(), &["--bootstrap", &b.addr, "--bootstrap", &a.addr, "--no-dht"]);
    let total = 2 + 2 + 2; // genesis, v1, two proposals, two revisions
    for node in [&a, &b, &c, &d] {
        eventually(20, "every node has every event", || log_len(&node.node, &design) == total);
        node.node.json(&["sync", &design]);
    }
    let expected = status(&a.node, &design);
    for node in [&b, &c, &d] {
        assert_eq!(status(&node.node, &design), expected);
    }
}

#[test]
fn a_second_node_on_the_same_store_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "a");
    let running = Daemon::start(&node, &[]);
    let second = node.run(&["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns"]);
    let second = second.fails_with(1, "in use by process");
    assert!(second.stderr.contains(&running.child.id().to_string()), "the error names the running node: {second:?}");
    // The running node is unaffected.
    assert!(running.node.json(&["node", "status"])["peer_id"].is_string());
}

#[test]
fn the_api_refuses_writes_without_the_token_and_from_web_pages() {
    let dir = tempfile::tempdir().expect("tmp");
    let daemon = Daemon::start(&Node::init(dir.path(), "a"), &[]);
    let running: Value =
        serde_json::from_str(&std::fs::read_to_string(daemon.node.home.join("api.json")).expect("api.json"))
            .expect("json");
    let api = running["api"].as_str().expect("api").to_owned();
    let token = std::fs::read_to_string(daemon.node.home.join("api-token")).expect("token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(daemon.node.home.join("api-token")).expect("token").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let body = "{}";
    let request = |headers: &str| {
        http(
            &api,
            &format!(
                "POST /v1/gc HTTP/1.1\r\nHost: {api}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    assert!(request("").starts_with("HTTP/1.1 401"), "no token");
    assert!(request("Authorization: Bearer wrong\r\n").starts_with("HTTP/1.1 401"), "wrong token");
    let from_page = request(&format!("Authorization: Bearer {token}\r\nOrigin: http://evil.example\r\n"));
    assert!(from_page.starts_with("HTTP/1.1 403"), "browser origin: {from_page}");
    let ok = request(&format!("Authorization: Bearer {token}\r\n"));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // Reads need no token; a foreign Host name (DNS rebinding) is refused.
    let read = http(&api, &format!("GET /v1/node HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"));
    assert!(read.starts_with("HTTP/1.1 200") && read.contains("peer_id"), "{read}");
    for host in ["evil.example", "127.evil.example", "localhost.evil.example", "127.0.0.1.evil.example", "127.0.0.2"] {
        let rebound = http(&api, &format!("GET /v1/node HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        assert!(rebound.starts_with("HTTP/1.1 403"), "{host}: {rebound}");
    }
    // A request the API cannot read is a JSON error too, never a crash.
    let body = r#"{"action":"follow","design":"not-an-id"}"#;
    let bad = http(
        &api,
        &format!(
            "POST /v1/policy HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(bad.starts_with("HTTP/1.1 422") && bad.contains(r#""reason":"bad-request""#), "{bad}");
}

/// One raw HTTP/1.1 exchange.
fn http(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn a_laptop_reachable_only_through_a_relay_is_reached_and_its_design_fetched() {
    let dir = tempfile::tempdir().expect("tmp");
    let relay = Daemon::start(&Node::init(dir.path(), "relay"), &["--relay-server", "--no-dht"]);
    let laptop = Daemon::start(&Node::init(dir.path(), "laptop"), &["--relay", &relay.addr, "--no-dht"]);
    eventually(20, "the laptop holds a reservation on the relay", || {
        let status = laptop.node.json(&["node", "status"]);
        status["listen"]
            .as_array()
            .expect("listen")
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.contains("/p2p-circuit")))
    });
    let (design, _) = laptop.node.publish(&small_design(dir.path(), "Tool rack"), &["-m", "v1"]);

    // C knows the laptop only by its address through the relay.
    let through_relay = format!("{}/p2p-circuit/p2p/{}", relay.addr, laptop.peer_id());
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &through_relay, "--no-dht"]);
    eventually(20, "c is connected to the laptop", || c.peers().contains(&laptop.peer_id()));
    let followed = c.node.json(&["follow", &design]);
    assert_eq!(followed["present"], true, "{followed}");
    let out = dir.path().join("c-checkout");
    c.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&dir.path().join("Tool rack")));
}

#[test]
fn follow_finds_through_the_dht_a_design_no_configured_peer_has() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &[]);
    let (design, _) = a.node.publish(&small_design(dir.path(), "Cable comb"), &["-m", "v1"]);
    // B knows A; C knows only B, which does not keep the design.
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr]);
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));
    let mut present = false;
    eventually(30, "c finds and fetches the design", || {
        present = c.node.json(&["follow", &design])["present"] == true;
        present
    });
    let out = dir.path().join("c-checkout");
    c.node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&dir.path().join("Cable comb")));
    assert!(log_len(&b.node, &design) == 0, "b never kept it");
}

#[test]
fn what_a_catch_up_brings_is_gossiped_on_to_the_other_peers() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let (design, _) = a.node.publish(&small_design(dir.path(), "Drill guide"), &["-m", "v1"]);
    // B keeps nothing yet; C seeds everything but knows only B.
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr, "--no-dht", "--seed-all"]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));
    assert_eq!(log_len(&c.node, &design), 0, "c cannot have it yet");
    // B follows the design: its catch-up with A brings the events, which
    // B gossips on to C.
    assert_eq!(b.node.json(&["follow", &design])["present"], true);
    eventually(10, "c holds the design", || log_len(&c.node, &design) > 0);
    let delivered = c.node.json(&["node", "status"])["gossip"]["delivered"].as_u64().expect("delivered");
    assert!(delivered >= 1, "c got the design by gossip from b, not by a catch-up of its own");
}

#[test]
fn dial_connects_now_and_says_clearly_when_it_cannot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--no-dht"]);
    let peer = a.addr.rsplit("/p2p/").next().expect("a peer id").to_owned();
    // Nobody of that id listens there: it says so once the wait is over.
    b.node.run(&["dial", &format!("/ip4/127.0.0.1/tcp/9/p2p/{peer}")]).fails_with(1, "no connection to");
    let dialled = b.node.json(&["dial", &a.addr]);
    assert_eq!(dialled["peer_id"], peer.as_str(), "{dialled}");
    let peers = b.node.json(&["peers"]);
    assert!(peers.as_array().expect("peers").iter().any(|p| p["peer_id"] == peer.as_str()), "{peers}");

    b.node.run(&["dial", "/ip4/127.0.0.1/tcp/9"]).fails_with(1, "does not end in /p2p/PEER_ID");
    b.node.run(&["dial", "not an address"]).fails_with(1, "is not a multiaddr");
    let offline = Node::init(dir.path(), "offline");
    offline.run(&["dial", &a.addr]).fails_with(1, "no node is running");
}

/// `communs node run` under systemd's `Type=notify`: it says `READY=1`
/// once its API answers, and `STOPPING=1` when told to stop.
#[cfg(unix)]
#[test]
fn a_service_manager_hears_ready_once_the_api_answers_and_stopping_on_sigterm() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().expect("temp dir");
    let socket_path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&socket_path).expect("the manager's socket");
    manager.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    let node = Node::init(dir.path(), "a");
    let mut child = node
        .command(&["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns", "--no-dht"])
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("communs node run starts");
    let mut message = [0u8; 64];
    let n = manager.recv(&mut message).expect("a message from the node");
    assert_eq!(&message[..n], b"READY=1");
    // Ready means answering: the API answers at once.
    let running: Value =
        serde_json::from_str(&std::fs::read_to_string(node.home.join("api.json")).expect("api.json")).expect("json");
    let addr = running["api"].as_str().expect("api");
    let answer = support::http::get(addr, "/v1/node");
    assert_eq!(answer.status, 200, "{answer:?}");

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let n = manager.recv(&mut message).expect("a message from the node");
    assert_eq!(&message[..n], b"STOPPING=1");
    assert!(child.wait().expect("it exits").success());
}
