//! A store holding what no honest node would write, and publishes killed
//! half-way: the node refuses the first and survives the second.

mod support;

use communs_node::{Home, Node as StoreNode, keyfile};
use communs_protocol::cbor::{self, Value};
use communs_protocol::fixtures;
use support::{Node, noise, small_design, snapshot, write_files};

/// A design whose tree names `../escaped.txt` and `/tmp/absolute.txt`,
/// signed by the node's own key and written straight into its store.
async fn plant_traversal_design(home: &std::path::Path) -> String {
    let home = Home::locate(Some(home)).expect("home");
    let key = keyfile::load(&home).expect("key");
    let node = StoreNode::open(home).await.expect("open");
    let content = b"owned\n".to_vec();
    let blob = node.add_blob(content.clone()).await.expect("blob");
    let entry = |path: &str| {
        Value::Array(vec![
            Value::Text(path.to_owned()),
            Value::Bytes(blob.as_bytes().to_vec()),
            Value::Integer((content.len() as u64).into()),
            Value::Bool(false),
        ])
    };
    let tree = cbor::encode(&Value::Array(vec![
        Value::Integer(1.into()),
        Value::Array(vec![entry("../escaped.txt"), entry("/tmp/absolute.txt")]),
    ]));
    let tree = node.add_blob(tree).await.expect("tree blob");
    let genesis = fixtures::genesis(&key, "Evil", "MIT", 0);
    let revision = fixtures::revision(&key, &genesis, tree, "Evil", "MIT");
    node.insert_events(&[genesis.clone(), revision]).expect("insert");
    node.close().await.expect("close");
    genesis.design().to_string()
}

#[test]
fn a_tree_with_traversal_paths_in_the_store_is_refused_by_get() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "home");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let design = runtime.block_on(plant_traversal_design(&node.home));
    let out = dir.path().join("sandbox/out");
    let run = node.run(&["get", &design, out.to_str().expect("utf-8")]).fails_with(1, "../escaped.txt");
    assert!(run.stderr.contains("`.` or `..` segment"), "{run:?}");
    assert!(!dir.path().join("sandbox/escaped.txt").exists());
    assert!(!std::path::Path::new("/tmp/absolute.txt").exists());
    let fsck = node.run(&["--json", "fsck"]);
    assert_eq!(fsck.code, 1);
    assert_eq!(fsck.json()["problems"][0]["kind"], "bad-tree");
}

#[test]
fn kill_9_during_publish_leaves_the_design_whole_or_absent() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Large");
    for i in 0..4 {
        write_files(&folder, &[(&format!("scans/part-{i}.stl"), &noise(i, 12 << 20))]);
    }
    for i in 0..200 {
        write_files(&folder, &[(&format!("docs/page-{i:03}.md"), &noise(100 + i, 2_000))]);
    }
    // Kill at increasing points of the publish (the first ones while the
    // store itself is being created), then check the store.
    for delay_ms in [1u64, 3, 5, 10, 40, 120, 300, 700] {
        let _ = std::fs::remove_file(folder.join(".communs"));
        let mut child = node
            .command(&["publish", folder.to_str().expect("utf-8")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let fsck = node.run(&["--json", "fsck"]);
        assert_eq!(fsck.code, 0, "after a kill at {delay_ms} ms: {fsck:?}");
        for design in node.json(&["list"]).as_array().expect("list") {
            let design = design["design"].as_str().expect("id");
            let out = dir.path().join(format!("check-{delay_ms}-{}", &design[7..15]));
            node.json(&["get", design, out.to_str().expect("utf-8")]);
            assert_eq!(snapshot(&out), snapshot(&folder), "a design in the store is whole");
        }
    }
    // The store is still usable: a publish to the end works.
    let _ = std::fs::remove_file(folder.join(".communs"));
    node.publish(&folder, &[]);
    node.json(&["fsck"]);
}

/// A 4 MiB file system of our own, unmounted on drop; `None` where this
/// process may not mount (not root).
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount(at: &std::path::Path) -> Option<TinyDisk> {
        std::fs::create_dir_all(at).ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4M", "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?
            .success();
        mounted.then(|| TinyDisk(at.to_owned()))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gets_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some(disk) = TinyDisk::mount(&dir.path().join("tiny")) else {
        eprintln!("skipped: mounting a 4 MiB tmpfs needs root");
        return;
    };
    let big = small_design(dir.path(), "Big");
    write_files(&big, &[("scan.ply", &noise(7, 6 << 20))]);

    // The store on the full disk: publish fails, says why, keeps nothing,
    // and gives the space back.
    let node = Node::init(&disk.0, "home");
    node.run(&["publish", big.to_str().expect("utf-8")]).fails_with(1, "is full");
    assert_eq!(node.json(&["list"]), serde_json::json!([]));
    node.json(&["fsck"]);
    let small = small_design(dir.path(), "Small");
    node.publish(&small, &[]);

    // A checkout onto the full disk: fails naming the file, leaves no
    // partial file behind, and the store is untouched.
    let elsewhere = Node::init(dir.path(), "elsewhere");
    let _ = std::fs::remove_file(big.join(".communs"));
    let (design, _) = elsewhere.publish(&big, &[]);
    let out = disk.0.join("checkout");
    elsewhere.run(&["get", &design, out.to_str().expect("utf-8")]).fails_with(1, "is full");
    assert!(!out.join("scan.ply").exists(), "no partial file is left behind");
    elsewhere.json(&["fsck"]);
}
