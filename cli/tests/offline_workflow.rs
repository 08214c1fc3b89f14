//! The maker's offline workflow, end to end through the real binary:
//! init, publish, list, show, log, get, fork, fsck, bundles.

mod support;

use std::path::Path;

use support::{Node, small_design, snapshot, write_files};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn init_twice_changes_nothing_and_says_so() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let first = node.json(&["id"]);
    let again = node.run(&["init", "--name", "Ada"]).ok();
    assert!(again.stdout.contains("nothing changed"), "{again:?}");
    assert_eq!(node.json(&["id"]), first);
    assert!(first["author"].as_str().expect("author").starts_with("author1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node.home.join("identity.key")).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = node.home.join("identity.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        node.run(&["id"]).fails_with(1, "chmod 600");
    }
}

#[test]
fn publish_list_show_get_round_trip_byte_for_byte() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Headband");
    write_files(&folder, &[("tools/export.sh", b"#!/bin/sh\necho export\n")]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder.join("tools/export.sh"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    let (design, revision) = node.publish(&folder, &["-m", "first"]);

    let list = node.json(&["list"]);
    assert_eq!(list[0]["design"], design.as_str());
    assert_eq!(list[0]["name"], "Headband");
    assert_eq!(list[0]["canonical"], revision.as_str());

    let show = node.json(&["show", &design]);
    assert_eq!(show["revision"], revision.as_str());
    assert_eq!(show["files"].as_array().expect("files").len(), 4);

    let out = dir.path().join("checkout");
    node.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("tools/export.sh")).expect("file").permissions().mode();
        assert_ne!(mode & 0o111, 0, "the executable bit survives");
    }
}

#[test]
fn republishing_adds_a_revision_only_when_something_changed() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Clip");
    let (design, first) = node.publish(&folder, &[]);
    let again = node.json(&["publish", folder.to_str().expect("utf-8")]);
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["revision"], first.as_str());

    write_files(&folder, &[("cad/part.scad", b"cube([12, 20, 3]);\n")]);
    let (same_design, second) = node.publish(&folder, &["-m", "wider"]);
    assert_eq!(same_design, design);
    assert_ne!(second, first);
    let log = node.json(&["log", &design]);
    let kinds: Vec<&str> =
        log.as_array().expect("log").iter().map(|e| e["body"]["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["revision", "revision", "genesis"], "newest first");
    assert_eq!(log[0]["body"]["base"][0], first.as_str());

    // The canonical head moved; the old revision is still there by id.
    assert_eq!(node.json(&["show", &design])["revision"], second.as_str());
    let old = dir.path().join("old");
    node.json(&["get", &format!("{design}@{first}"), old.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(old.join("cad/part.scad")).expect("file"), b"cube([10, 20, 3]);\n");
}

#[test]
fn a_checked_out_folder_publishes_on_top_of_its_revision() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let (design, first) = node.publish(&small_design(dir.path(), "Hinge"), &[]);
    let work = dir.path().join("work");
    node.json(&["get", &design, work.to_str().expect("utf-8")]);
    write_files(&work, &[("NOTES.md", b"printed fine in PETG\n")]);
    let (same, second) = node.publish(&work, &[]);
    assert_eq!(same, design);
    let show = node.json(&["show", &format!("{design}@{second}")]);
    assert_eq!(show["is_canonical"], true);
    let log = node.json(&["log", &design]);
    assert_eq!(log[0]["body"]["base"][0], first.as_str());
}

#[test]
fn git_folders_and_ignored_files_are_not_published() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Ignored");
    write_files(
        &folder,
        &[
            (".git/config", b"[core]\n"),
            (".communsignore", b"*.bak\nbuild/\n"),
            ("old.bak", b"x"),
            ("build/out.stl", b"x"),
        ],
    );
    let (design, _) = node.publish(&folder, &[]);
    let show = node.json(&["show", &design]);
    let paths: Vec<&str> =
        show["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("path")).collect();
    assert_eq!(paths, [".communsignore", "README.md", "cad/part.scad", "okh.toml"]);
}

#[test]
fn a_folder_without_okh_toml_needs_a_license_and_gets_a_warning() {
    let dir = tmp();
    let node = Node { home: dir.path().join("home") };
    node.run(&["init", "--name", "Ada Lovelace"]).ok();
    let folder = dir.path().join("lamp");
    write_files(&folder, &[("README.md", b"# Lamp\n\nA bike lamp bracket.\n"), ("lamp.scad", b"sphere(5);\n")]);
    node.run(&["publish", folder.to_str().expect("utf-8")]).fails_with(1, "--license");
    node.run(&["init", "--name", "ignored: already initialised"]).ok();
    let out = node.json(&["publish", folder.to_str().expect("utf-8"), "--license", "CERN-OHL-P-2.0"]);
    assert!(out["warnings"][0].as_str().expect("a warning").contains("okh.toml"), "{out}");
    let show = node.json(&["show", out["design"].as_str().expect("design")]);
    assert_eq!(show["manifest"]["name"], "lamp");
    assert_eq!(show["manifest"]["function"], "A bike lamp bracket.");
    assert_eq!(show["manifest"]["licensor"][0], "Ada Lovelace", "the name given to init");

    // The next revision keeps the design's license without --license again.
    write_files(&folder, &[("lamp.scad", b"sphere(6);\n")]);
    let next = node.json(&["publish", folder.to_str().expect("utf-8")]);
    assert_eq!(next["new_design"], false, "{next}");
    assert!(next["warnings"].to_string().contains("keeps the design's license, CERN-OHL-P-2.0"), "{next}");
    let show = node.json(&["show", out["design"].as_str().expect("design")]);
    assert_eq!(show["manifest"]["license"]["hardware"], "CERN-OHL-P-2.0", "{show}");
}

#[test]
fn a_share_alike_design_keeps_its_license_across_revisions() {
    let dir = tmp();
    let node = Node { home: dir.path().join("home") };
    node.run(&["init", "--name", "Ada Lovelace"]).ok();
    let folder = dir.path().join("hinge");
    write_files(&folder, &[("hinge.scad", b"cube(3);\n")]);
    node.json(&["publish", folder.to_str().expect("utf-8"), "--license", "CERN-OHL-S-2.0"]);
    write_files(&folder, &[("hinge.scad", b"cube(4);\n")]);
    node.run(&["publish", folder.to_str().expect("utf-8"), "--license", "MIT"]).fails_with(1, "share-alike");
    let same = node.json(&["publish", folder.to_str().expect("utf-8"), "--license", "CERN-OHL-S-2.0"]);
    assert_eq!(same["new_design"], false, "{same}");
}

#[test]
fn bad_input_gets_clear_errors_and_stable_exit_codes() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let missing = dir.path().join("nope");
    node.run(&["publish", missing.to_str().expect("utf-8")]).fails_with(1, "no such folder");
    // A well-formed id of a design this store does not hold.
    let folder = small_design(dir.path(), "Other");
    let other = Node::init(dir.path(), "other");
    let (foreign, _) = other.publish(&folder, &[]);
    node.run(&["get", &foreign, dir.path().join("x").to_str().expect("utf-8")]).fails_with(1, "not in this store");
    node.run(&["show", "design1notanid"]).fails_with(2, "not a valid design id");
    node.run(&["show", &foreign.replace("design1", "event1")]).fails_with(2, "design id");
    node.run(&["frobnicate"]).fails_with(2, "unrecognized subcommand");
    let uninitialised = Node { home: dir.path().join("empty") };
    uninitialised.run(&["list"]).fails_with(1, "communs init");
}

#[test]
fn files_the_limits_forbid_are_named_in_the_error() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    for (name, reason) in
        [("CON.txt", "reserved on Windows"), ("a:b.scad", "Windows does not allow"), ("notes.", "dot")]
    {
        let folder = small_design(dir.path(), "Limits");
        write_files(&folder, &[(name, b"x")]);
        let run = node.run(&["publish", folder.to_str().expect("utf-8")]).fails_with(1, name);
        assert!(run.stderr.contains(reason), "{run:?}");
        std::fs::remove_file(folder.join(name)).expect("cleanup");
    }
    let folder = small_design(dir.path(), "Collide");
    write_files(&folder, &[("Readme.md", b"x")]);
    node.run(&["publish", folder.to_str().expect("utf-8")]).fails_with(1, "differ only by case");
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_refused_with_a_fix() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Linked");
    std::os::unix::fs::symlink("/etc/passwd", folder.join("passwd")).expect("symlink");
    node.run(&["publish", folder.to_str().expect("utf-8")]).fails_with(1, "symbolic links are not published");
}

#[test]
fn get_refuses_a_non_empty_folder_unless_forced() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let (design, _) = node.publish(&small_design(dir.path(), "Full"), &[]);
    let out = dir.path().join("busy");
    write_files(&out, &[("mine.txt", b"keep me")]);
    node.run(&["get", &design, out.to_str().expect("utf-8")]).fails_with(1, "not empty");
    node.run(&["get", &design, out.to_str().expect("utf-8"), "--force"]).ok();
    assert_eq!(std::fs::read(out.join("mine.txt")).expect("kept"), b"keep me");
    assert!(out.join("cad/part.scad").exists());
}

#[cfg(unix)]
#[test]
fn get_never_writes_through_a_symbolic_link() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let (design, _) = node.publish(&small_design(dir.path(), "Trap"), &[]);
    let out = dir.path().join("trap");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, out.join("cad")).expect("symlink");
    node.run(&["get", &design, out.to_str().expect("utf-8"), "--force"]).fails_with(1, "symbolic link");
    assert_eq!(std::fs::read_dir(&outside).expect("dir").count(), 0, "nothing written outside");
}

#[test]
fn a_second_process_on_the_same_store_gets_a_clear_error() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    // Hold the store lock from this process, as a running node would.
    let lock = std::fs::OpenOptions::new().read(true).write(true).open(node.home.join("lock"));
    let lock = match lock {
        Ok(file) => file,
        Err(_) => {
            node.run(&["list"]).ok();
            std::fs::OpenOptions::new().read(true).write(true).open(node.home.join("lock")).expect("lock file")
        }
    };
    lock.try_lock().expect("the test takes the lock");
    std::fs::write(node.home.join("lock"), format!("{}\n", std::process::id())).expect("pid");
    let run = node.run(&["list"]).fails_with(1, "in use by process");
    assert!(run.stderr.contains(&std::process::id().to_string()), "names the holder: {run:?}");
    drop(lock);
    node.run(&["list"]).ok();
}

#[test]
fn a_blob_altered_on_disk_is_caught_by_get_and_fsck() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Damaged");
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    write_files(&folder, &[("cad/mesh.stl", &big)]);
    let (design, _) = node.publish(&folder, &[]);
    node.json(&["fsck"]);
    let show = node.json(&["show", &design]);
    let blob = show["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "cad/mesh.stl")
        .and_then(|f| f["blob"].as_str())
        .expect("the mesh")
        .to_owned();
    let data = support::blob_data_file(&node.home, &blob);
    let mut bytes = std::fs::read(&data).expect("data file");
    bytes[12_345] ^= 0xff;
    std::fs::write(&data, bytes).expect("alter");

    let out = dir.path().join("out");
    node.run(&["get", &design, out.to_str().expect("utf-8")]).fails_with(1, "cad/mesh.stl");
    assert!(!out.join("cad/mesh.stl").exists(), "no damaged file is left behind");
    let fsck = node.run(&["--json", "fsck"]);
    assert_eq!(fsck.code, 1);
    let report = fsck.json();
    assert_eq!(report["problems"][0]["kind"], "damaged-blob");
    assert_eq!(report["problems"][0]["subject"], blob.as_str());
}

#[test]
fn fork_keeps_a_share_alike_license_and_names_its_source() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let (design, revision) = node.publish(&small_design(dir.path(), "Visor"), &[]);
    node.run(&["fork", &design, "--license", "MIT"]).fails_with(1, "share-alike");
    let fork = node.json(&["fork", &design, "--name", "Long visor"]);
    assert_eq!(fork["fork_of"]["design"], design.as_str());
    assert_eq!(fork["fork_of"]["revision"], revision.as_str());
    assert_eq!(fork["license"], "CERN-OHL-S-2.0");
    let show = node.json(&["show", fork["design"].as_str().expect("design")]);
    assert_eq!(show["manifest"]["name"], "Long visor");
    assert_eq!(show["fork_of"]["design"], design.as_str());
    let list = node.json(&["list"]);
    assert_eq!(list.as_array().expect("list").len(), 2);
}

#[test]
fn a_bundle_carries_a_design_to_another_store_and_importing_twice_changes_nothing() {
    let dir = tmp();
    let alice = Node::init(dir.path(), "alice");
    let bob = Node::init(dir.path(), "bob");
    let folder = small_design(dir.path(), "Spool");
    let (design, _) = alice.publish(&folder, &[]);
    write_files(&folder, &[("cad/part.scad", b"cube(1);\n")]);
    let (_, head) = alice.publish(&folder, &[]);
    let bundle = dir.path().join("spool.communs");
    alice.json(&["bundle", "export", &design, bundle.to_str().expect("utf-8")]);

    let first = bob.json(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(first["new_events"], 3);
    let second = bob.json(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    assert_eq!(second["new_events"], 0);
    assert_eq!(second["new_blobs"], 0);
    assert_eq!(bob.json(&["show", &design])["revision"], head.as_str());
    let out = dir.path().join("bob-copy");
    bob.json(&["get", &design, out.to_str().expect("utf-8")]);
    assert_eq!(snapshot(&out), snapshot(&folder));
    bob.json(&["fsck"]);
}

#[test]
fn a_tampered_bundle_is_refused_and_stores_nothing() {
    let dir = tmp();
    let alice = Node::init(dir.path(), "alice");
    let (design, _) = alice.publish(&small_design(dir.path(), "Tamper"), &[]);
    let bundle = dir.path().join("b.communs");
    alice.json(&["bundle", "export", &design, bundle.to_str().expect("utf-8")]);
    let original = std::fs::read(&bundle).expect("bundle");
    let bob = Node::init(dir.path(), "bob");
    // Flip one byte near the end (inside a blob), then truncate a copy.
    let mut flipped = original.clone();
    let at = flipped.len() - 60;
    flipped[at] ^= 1;
    let tampered = dir.path().join("flipped.communs");
    std::fs::write(&tampered, &flipped).expect("write");
    bob.run(&["bundle", "import", tampered.to_str().expect("utf-8")]).fails_with(1, "damaged");
    let truncated = dir.path().join("truncated.communs");
    std::fs::write(&truncated, &original[..original.len() / 2]).expect("write");
    bob.run(&["bundle", "import", truncated.to_str().expect("utf-8")]).fails_with(1, "truncated");
    assert_eq!(bob.json(&["list"]), serde_json::json!([]));
}

/// Is `path` an existing folder with at least one entry?
fn non_empty(path: &Path) -> bool {
    std::fs::read_dir(path).map(|mut d| d.next().is_some()).unwrap_or(false)
}

#[test]
fn json_mode_prints_no_progress_and_errors_as_json() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let run = node.run(&["--json", "show", "design1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"]);
    assert_eq!(run.code, 2);
    let folder = small_design(dir.path(), "Quiet");
    let run = node.run(&["--json", "publish", folder.to_str().expect("utf-8")]).ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(non_empty(&node.home.join("store")));
    let err = node.run(&["--json", "publish", dir.path().join("missing").to_str().expect("utf-8")]);
    assert_eq!(err.code, 1);
    let parsed: serde_json::Value = serde_json::from_str(err.stderr.trim()).expect("a JSON error on stderr");
    assert!(parsed["error"].as_str().expect("message").contains("no such folder"));
}

/// Bytes of every file under `root`.
fn disk_bytes(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let meta = entry.metadata().expect("meta");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

#[test]
fn identical_content_is_stored_once_and_a_one_file_change_reads_only_that_file() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Dedup");
    let big_a: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_be_bytes()).collect();
    let big_b: Vec<u8> = (0..300_000u32).flat_map(|i| (i ^ 0x5555).to_le_bytes()).collect();
    write_files(&folder, &[("mesh/a.stl", &big_a), ("mesh/b.stl", &big_b)]);
    node.publish(&folder, &[]);
    let blob_data = node.home.join("store/blobs/data");
    let stored = disk_bytes(&blob_data);

    // The same files in another folder, published as another design.
    let copy = dir.path().join("copy");
    write_files(&copy, &snapshot(&folder).iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect::<Vec<_>>());
    node.publish(&copy, &[]);
    assert_eq!(disk_bytes(&blob_data), stored, "no new blob bytes for identical content");

    // Let the first publish's stamps settle, then change one file.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    node.publish(&folder, &["-m", "warm the cache"]);
    let small_change = b"cube([11, 20, 3]);\n";
    write_files(&folder, &[("cad/part.scad", small_change)]);
    let out = node.json(&["publish", folder.to_str().expect("utf-8"), "-m", "one file"]);
    assert_eq!(out["unchanged"], false);
    assert_eq!(out["bytes_read"], small_change.len(), "only the changed file is read: {out}");
}

/// Copies a folder (files only), keeping the executable bits.
fn copy_folder(from: &Path, to: &Path) {
    for (path, contents) in snapshot(from) {
        write_files(to, &[(path.as_str(), contents.as_slice())]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(from.join(&path)).expect("meta").permissions().mode();
            std::fs::set_permissions(to.join(&path), std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    }
}

#[test]
fn the_example_designs_publish_and_check_out_byte_for_byte() {
    let examples = support::examples_dir();
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&examples).expect("examples/designs") {
        let source = entry.expect("entry").path();
        // Publishing writes a marker into the folder: work on a copy.
        let folder = dir.path().join("src").join(source.file_name().expect("name"));
        copy_folder(&source, &folder);
        let (design, _) = node.publish(&folder, &["-m", "example"]);
        let show = node.json(&["show", &design]);
        assert!(show["manifest"]["license"]["hardware"].as_str().is_some(), "{show}");
        names.push(show["manifest"]["name"].as_str().expect("name").to_owned());
        let out = dir.path().join("out").join(source.file_name().expect("name"));
        node.json(&["get", &design, out.to_str().expect("utf-8")]);
        assert_eq!(snapshot(&out), snapshot(&source), "{}", source.display());
    }
    names.sort();
    assert_eq!(names, ["Face-shield headband", "Wall-mounted filament spool holder"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.path().join("out/spool-holder/tools/export-stl.sh");
        assert_ne!(std::fs::metadata(script).expect("script").permissions().mode() & 0o111, 0);
    }
}

#[test]
fn shell_completions_are_printed() {
    let dir = tmp();
    let node = Node { home: dir.path().join("unused") };
    let run = node.run(&["completions", "bash"]).ok();
    assert!(run.stdout.contains("communs"), "{run:?}");
    assert!(!node.home.exists(), "completions touch no data directory");
}

#[test]
fn a_file_over_the_size_limit_is_named_before_anything_is_read() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Huge");
    // A sparse file: 64 GiB + 1 byte long, no disk used.
    let huge = std::fs::File::create(folder.join("scan.ply")).expect("create");
    huge.set_len(communs_protocol::limits::MAX_BLOB_BYTES + 1).expect("sparse file");
    let run = node.run(&["publish", folder.to_str().expect("utf-8")]).fails_with(1, "scan.ply");
    assert!(run.stderr.contains("over the limit"), "{run:?}");
    assert_eq!(node.json(&["list"]), serde_json::json!([]));
}

/// `list` pages by name, case aside, whatever the store holds; a design
/// renamed by a new revision moves to its new place.
#[test]
fn list_pages_through_designs_by_name_and_follows_a_rename() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let mut ids = std::collections::HashMap::new();
    for name in ["bracket", "Clamp", "Anchor", "dowel"] {
        let (design, _) = node.publish(&small_design(dir.path(), name), &[]);
        ids.insert(name, design);
    }
    let names = |page: &serde_json::Value| -> Vec<String> {
        page.as_array().expect("a page").iter().map(|d| d["name"].as_str().expect("name").to_owned()).collect()
    };
    let first = node.json(&["list", "--limit", "2"]);
    assert_eq!(names(&first), ["Anchor", "bracket"]);
    let after = first[1]["design"].as_str().expect("design").to_owned();
    let rest = node.json(&["list", "--after", &after]);
    assert_eq!(names(&rest), ["Clamp", "dowel"]);
    let text = node.run(&["list", "--limit", "2"]).ok().stdout;
    assert!(text.contains(&format!("(more designs: communs list --after {after})")), "{text}");
    let last = node.run(&["list", "--after", &ids["dowel"]]).ok().stdout;
    assert!(last.contains("No designs after"), "{last}");

    // A new revision named "Zip tie" moves "Clamp" to the end.
    let folder = dir.path().join("Clamp");
    write_files(
        &folder,
        &[("okh.toml", b"okhv = \"OKH-LOSHv1.0\"\nname = \"Zip tie\"\nlicense = \"CERN-OHL-S-2.0\"\n")],
    );
    node.publish(&folder, &[]);
    assert_eq!(names(&node.json(&["list"])), ["Anchor", "bracket", "dowel", "Zip tie"]);
    assert_eq!(node.json(&["fsck"])["ok"], true);

    let unknown = communs_protocol::DesignId::from_hash(communs_protocol::Hash::from_bytes([9; 32])).to_string();
    node.run(&["list", "--after", &unknown]).fails_with(1, &unknown);
}

/// Every file under `root` with its modification time.
fn modified_times(root: &Path) -> std::collections::BTreeMap<std::path::PathBuf, std::time::SystemTime> {
    let mut out = std::collections::BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable folder") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                folders.push(entry.path());
            } else {
                out.insert(entry.path(), meta.modified().expect("mtime"));
            }
        }
    }
    out
}

/// Commands that only read open the event database read-only and the
/// blob store not at all: they write nothing, so they sync nothing.
#[test]
fn reading_commands_leave_every_file_of_the_store_untouched() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let (design, _) = node.publish(&small_design(dir.path(), "Hinge"), &[]);
    let store = node.home.join("store");
    let before = modified_times(&store);
    // Coarse file systems store times to the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for args in [vec!["list"], vec!["log", &design], vec!["status", &design]] {
        node.json(&args);
        assert_eq!(modified_times(&store), before, "`communs {}` changed the store", args.join(" "));
    }
    // A write still works after reads: the database turns writable.
    node.json(&["follow", &design]);
    assert_eq!(node.json(&["fsck"])["ok"], true);
}

/// A folder the node may read but not write (as the packaged service reads
/// makers' folders): the publish happens, and a marker that cannot be
/// written is a warning that says how to go on, not an error that hides a
/// design already made (publishing again would make a second one). The
/// folder is made immutable, which stops root too; skipped where `chattr`
/// cannot (not root, or a file system without the flag).
#[test]
fn a_folder_that_cannot_hold_its_marker_still_publishes_and_says_how_to_go_on() {
    let dir = tmp();
    let node = Node::init(dir.path(), "home");
    let folder = small_design(dir.path(), "Read-only visor");
    let chattr =
        |flag: &str| std::process::Command::new("chattr").arg(flag).arg(&folder).status().is_ok_and(|s| s.success());
    if !chattr("+i") {
        eprintln!("skipped: chattr +i is not available here");
        return;
    }
    struct Mutable<F: Fn(&str) -> bool>(F);
    impl<F: Fn(&str) -> bool> Drop for Mutable<F> {
        fn drop(&mut self) {
            (self.0)("-i");
        }
    }
    let _mutable_again = Mutable(chattr);
    let folder_arg = folder.to_str().expect("utf-8");
    let run = node.run(&["publish", folder_arg, "-m", "first"]).ok();
    assert!(run.stdout.contains("Published a new design"), "{run:?}");
    let list = node.json(&["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let design = list[0]["design"].as_str().expect("design").to_owned();
    assert!(run.stderr.contains(".communs") && run.stderr.contains(&format!("--design {design}")), "{run:?}");
    assert!(!folder.join(".communs").exists());
    // Going on as the warning says: the same design (nothing changed), and
    // scripts read why the folder holds no marker.
    let run = node.run(&["--json", "publish", folder_arg, "--design", &design]).ok();
    let again = run.json();
    assert_eq!(again["design"], design.as_str());
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["marked"], false, "{run:?}");
    assert!(again["marker_error"].as_str().is_some_and(|e| e.contains(".communs")), "{run:?}");
    assert_eq!(node.json(&["list"]).as_array().map(Vec::len), Some(1));
    // Writable again: the folder records the design it holds.
    drop(_mutable_again);
    let again = node.json(&["publish", folder_arg, "--design", &design]);
    assert_eq!(again["marked"], true);
    assert!(folder.join(".communs").exists());
}
