//! Progress of the work a running node carries out: streamed to the client
//! that asks (`Accept: application/x-ndjson`, spec/api.md "Progress"), and
//! listed in `node status` while it runs. Real `communs node run`
//! processes on loopback.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::daemon::{Daemon, eventually};
use support::http::request;
use support::{Node, small_design};

/// The size of the large file: a few seconds of transfer in a debug build.
const BIG: u64 = 96 << 20;

fn api(node: &Node) -> (String, String) {
    let running: Value =
        serde_json::from_str(&std::fs::read_to_string(node.home.join("api.json")).expect("api.json")).expect("json");
    let token = std::fs::read_to_string(node.home.join("api-token")).expect("token");
    (running["api"].as_str().expect("api").to_owned(), token.trim().to_owned())
}

/// POSTs `body` to `path` asking for progress; the lines of the answer.
fn post_watched(node: &Node, path: &str, body: &Value) -> (u16, Option<String>, Vec<Value>) {
    let (addr, token) = api(node);
    let bearer = format!("Bearer {token}");
    let answer = request(
        &addr,
        "POST",
        path,
        &[("Authorization", &bearer), ("Content-Type", "application/json"), ("Accept", "application/x-ndjson")],
        serde_json::to_vec(body).expect("json"),
    );
    let lines = answer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}")))
        .collect();
    (answer.status, answer.header("content-type").map(str::to_owned), lines)
}

#[test]
fn a_get_on_a_running_node_streams_its_progress_and_node_status_lists_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht"]);
    let folder = small_design(dir.path(), "Laser-cut frame");
    // Zeros, sparse here; the transfer still carries every byte.
    std::fs::File::create(folder.join("cad/frame.dxf")).expect("file").set_len(BIG).expect("size");
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let total = seeder.node.json(&["show", &design])["total_bytes"].as_u64().expect("total");
    let getter = Daemon::start(&Node::init(dir.path(), "getter"), &["--bootstrap", &seeder.addr, "--no-dht"]);
    eventually(10, "the getter is connected", || getter.peers().len() == 1);

    // Meanwhile, `node status` is read again and again.
    let done = Arc::new(AtomicBool::new(false));
    let listed = Arc::new(Mutex::new(Vec::<Value>::new()));
    let watcher = {
        let (node, done, listed) = (Node { home: getter.node.home.clone() }, done.clone(), listed.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let status = node.json(&["node", "status"]);
                let activities = status["activities"].as_array().cloned().unwrap_or_default();
                listed.lock().expect("lock").extend(activities);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let out = dir.path().join("out");
    let (status, content_type, lines) = post_watched(
        &getter.node,
        &format!("/v1/designs/{design}/get"),
        &json!({ "dir": out.to_str().expect("utf-8"), "force": false }),
    );
    done.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");

    assert_eq!(status, 200, "{lines:?}");
    assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
    let (last, progress) = lines.split_last().expect("lines");
    assert_eq!(last["result"]["bytes"].as_u64(), Some(total), "the outcome comes last: {last}");
    assert!(progress.iter().all(|l| l.get("progress").is_some()), "only progress before it: {progress:?}");
    assert!(progress.len() >= 2, "progress while the {BIG}-byte file travels: {progress:?}");
    let done_bytes: Vec<u64> = progress.iter().map(|l| l["progress"]["bytes_done"].as_u64().expect("done")).collect();
    assert!(done_bytes.windows(2).all(|w| w[0] <= w[1]), "bytes done never go back: {done_bytes:?}");
    assert!(
        done_bytes.iter().any(|d| *d > 0 && *d < total),
        "some line shows the transfer part way: {done_bytes:?} of {total}"
    );
    assert!(progress.iter().any(|l| l["progress"]["bytes_total"].as_u64() == Some(total)), "{progress:?}");
    let seeder_id = seeder.peer_id();
    assert!(
        progress.iter().any(|l| l["progress"]["peers"].as_array().is_some_and(|p| p.contains(&json!(seeder_id)))),
        "the peer serving it is named: {progress:?}"
    );
    assert_eq!(std::fs::metadata(out.join("cad/frame.dxf")).expect("written").len(), BIG);

    // `node status` listed the get while it ran, with its counts.
    let listed = listed.lock().expect("lock");
    assert!(
        listed.iter().any(|a| a["kind"] == "get"
            && a["subject"] == design.as_str()
            && a["bytes_total"].as_u64() == Some(total)
            && a["bytes_done"].as_u64().is_some_and(|d| d < total)),
        "node status showed the get under way: {listed:?}"
    );
    // And no longer once it ended.
    let after = getter.node.json(&["node", "status"]);
    assert!(after["activities"].as_array().expect("activities").iter().all(|a| a["kind"] != "get"), "{after}");
}

#[test]
fn an_error_is_the_last_line_of_a_stream_and_follow_wait_fetches_the_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let seeder = Daemon::start(&Node::init(dir.path(), "seeder"), &["--no-dht"]);
    let folder = small_design(dir.path(), "Spool holder");
    support::write_files(&folder, &[("cad/big.bin", &support::noise(7, 3 << 20))]);
    let (design, _) = seeder.node.publish(&folder, &["-m", "v1"]);
    let follower = Daemon::start(&Node::init(dir.path(), "follower"), &["--bootstrap", &seeder.addr, "--no-dht"]);
    eventually(10, "the follower is connected", || follower.peers().len() == 1);

    // An error of the work itself: a stream, its last line the error with
    // the status the route would have answered. A design no peer has:
    let stranger = Node::init(dir.path(), "stranger");
    let (unknown, _) = stranger.publish(&small_design(dir.path(), "Nobody's"), &["-m", "v1"]);
    let (status, _, lines) = post_watched(
        &follower.node,
        &format!("/v1/designs/{unknown}/get"),
        &json!({ "dir": dir.path().join("nowhere").to_str().expect("utf-8") }),
    );
    assert_eq!(status, 200, "{lines:?}");
    let last = lines.last().expect("a line");
    assert_eq!(
        (last["status"].as_u64(), last["error"]["reason"].as_str()),
        (Some(404), Some("unknown-design")),
        "{last}"
    );

    let out = dir.path().join("out");
    let (status, content_type, lines) = post_watched(
        &follower.node,
        &format!("/v1/designs/{design}/get"),
        &json!({ "dir": out.to_str().expect("utf-8"), "revision": "not-an-event" }),
    );
    assert_eq!(status, 422, "a request that cannot be read is refused before any stream: {lines:?}");
    assert_ne!(content_type.as_deref(), Some("application/x-ndjson"));
    std::fs::create_dir_all(&out).expect("out");
    std::fs::write(out.join("taken"), b"x").expect("a file");
    let (status, _, lines) = post_watched(
        &follower.node,
        &format!("/v1/designs/{design}/get"),
        &json!({ "dir": out.to_str().expect("utf-8") }),
    );
    assert_eq!(status, 200);
    let last = lines.last().expect("a line");
    assert_eq!(last["status"], 422, "the get into a folder that is not empty fails: {last}");
    assert_eq!(last["error"]["reason"], "refused", "{last}");
    // The CLI says the same, through the same stream.
    follower.node.run(&["get", &design, out.to_str().expect("utf-8")]).fails_with(1, "not empty");

    // `follow --wait`, on a node that has never seen the design, returns
    // once its files are here.
    let fresh = Daemon::start(&Node::init(dir.path(), "fresh"), &["--bootstrap", &seeder.addr, "--no-dht"]);
    eventually(10, "the fresh node is connected", || fresh.peers().len() == 1);
    let followed = fresh.node.json(&["follow", &design, "--wait"]);
    assert_eq!(
        (followed["action"].as_str(), followed["present"].as_bool()),
        (Some("follow"), Some(true)),
        "{followed}"
    );
    assert_eq!(followed["files"]["errors"], json!([]), "{followed}");
    assert_eq!(followed["files"]["files"][0]["design"], design.as_str(), "{followed}");
    let fsck = fresh.node.json(&["fsck"]);
    assert_eq!(fsck["absent_blobs"], 0, "every file is here as soon as follow --wait returns: {fsck}");
}
