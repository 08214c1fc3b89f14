use std::path::{Path, PathBuf};
use std::sync::Arc;

use communs_protocol::{AuthorId, DesignId, Hash, SecretKey};

use super::*;
use crate::policy::PolicyAction;
use crate::progress::NoProgress;
use crate::{Home, Node};

fn design(n: u8) -> DesignId {
    DesignId::from_hash(Hash::from_bytes([n; 32]))
}

fn author(n: u8) -> AuthorId {
    SecretKey::from_bytes(&[n; 32]).author()
}

fn doc(n: u8, name: &str, function: &str, keywords: &[&str], license: &str) -> SearchDoc {
    SearchDoc {
        design: design(n),
        name: name.to_owned(),
        function: function.to_owned(),
        description: String::new(),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        licenses: vec![license.to_owned()],
        authors: vec![(author(n), None)],
        readme: String::new(),
        makes: 0,
        held: true,
        last_change_ms: u64::from(n),
    }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery { text: text.to_owned(), limit: 10, ..Default::default() }
}

fn names(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.name.as_str()).collect()
}

fn small_index() -> SearchIndex {
    let mut index = SearchIndex::in_memory().expect("index");
    let mut shield = doc(1, "Face shield headband", "A visor frame for clinics", &["covid", "PPE"], "CERN-OHL-S-2.0");
    shield.makes = 3;
    shield.authors = vec![(author(1), Some("Ada Lovelace".to_owned()))];
    let spool =
        doc(2, "Wall spool holder", "Holds filament spools on a wall", &["3d printing"], "CERN-OHL-P-2.0 OR MIT");
    let mut trailer = doc(3, "Bike trailer", "Carries loads behind a bicycle", &["cargo"], "CC-BY-SA-4.0");
    trailer.readme = "Welded steel frame; holds two crates or a spool of cable.".to_owned();
    for (i, d) in [shield, spool, trailer].iter().enumerate() {
        index.upsert(d, i as u64).expect("upsert");
    }
    index.commit().expect("commit");
    index
}

#[test]
fn words_rank_by_where_they_appear() {
    let index = small_index();
    // "spool" is in the holder's name and the trailer's README: the name
    // weighs more. Stemming: "spools" finds "spool".
    assert_eq!(names(&index.search(&query("spools")).expect("search")), ["Wall spool holder", "Bike trailer"]);
    assert_eq!(names(&index.search(&query("bicycle")).expect("search")), ["Bike trailer"]);
    assert!(index.search(&query("submarine")).expect("search").is_empty());
    // What a person types is never refused.
    assert_eq!(names(&index.search(&query("visor: \"frame")).expect("search"))[0], "Face shield headband");
}

#[test]
fn filters_narrow_and_an_empty_query_lists_by_last_change() {
    let index = small_index();
    let with = |f: &dyn Fn(&mut SearchQuery)| {
        let mut q = query("");
        f(&mut q);
        names(&index.search(&q).expect("search")).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(with(&|_| {}), ["Bike trailer", "Wall spool holder", "Face shield headband"]);
    assert_eq!(with(&|q| q.license = Some("MIT".to_owned())), ["Wall spool holder"]);
    assert!(with(&|q| q.license = Some("CERN-OHL".to_owned())).is_empty(), "ids match exactly");
    assert_eq!(with(&|q| q.keyword = Some("ppe".to_owned())), ["Face shield headband"]);
    assert!(with(&|q| q.keyword = Some("printing".to_owned())).is_empty(), "keywords match whole");
    assert_eq!(with(&|q| q.author = Some(author(2).to_string())), ["Wall spool holder"]);
    assert_eq!(with(&|q| q.author = Some("ada lovelace".to_owned())), ["Face shield headband"]);
    assert_eq!(with(&|q| q.made = true), ["Face shield headband"]);
    let mut q = query("spool");
    q.license = Some("CC-BY-SA-4.0".to_owned());
    assert_eq!(names(&index.search(&q).expect("search")), ["Bike trailer"]);
    q.limit = 0;
    assert_eq!(index.search(&q).expect("search").len(), 1, "a limit of 0 is 1");
}

#[test]
fn an_upsert_replaces_and_a_remove_removes() {
    let mut index = small_index();
    index.upsert(&doc(2, "Ceiling spool rack", "", &[], "MIT"), 9).expect("upsert");
    index.remove(&design(3));
    index.commit().expect("commit");
    assert_eq!(names(&index.search(&query("spool")).expect("search")), ["Ceiling spool rack"]);
    assert_eq!(index.len(), 2);
    assert_eq!(index.stamps().expect("stamps").get(&design(2)), Some(&(9, true)));
}

#[test]
fn license_ids_are_the_ids_an_expression_names() {
    assert_eq!(license_ids("CERN-OHL-S-2.0"), ["CERN-OHL-S-2.0"]);
    assert_eq!(license_ids("(MIT OR Apache-2.0) AND CC-BY-4.0"), ["MIT", "Apache-2.0", "CC-BY-4.0"]);
    assert_eq!(license_ids("GPL-2.0-or-later WITH Linux-syscall-note"), ["GPL-2.0-or-later"]);
    assert_eq!(license_ids("Apache-2.0+ OR LicenseRef-Mine"), ["Apache-2.0", "LicenseRef-Mine"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn example(scratch: &Path, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/designs").join(name);
    let to = scratch.join(name);
    copy_dir(&from, &to);
    to
}

async fn open(dir: &Path) -> Arc<Node> {
    let home = Home::locate(Some(&dir.join("home"))).expect("home");
    crate::keyfile::load_or_create(&home).expect("identity");
    Arc::new(Node::open(home).await.expect("open"))
}

async fn publish(node: &Node, folder: PathBuf) -> DesignId {
    let request = crate::publish::PublishRequest {
        folder,
        message: None,
        design: None,
        license: None,
        maintainers: Vec::new(),
        threshold: None,
        now_ms: 1_700_000_000_000,
    };
    node.publish(request, &NoProgress).await.expect("publish").design
}

async fn top(node: &Node, text: &str) -> Vec<String> {
    node.search(&query(text)).await.expect("search").into_iter().map(|h| h.name).collect()
}

async fn close(node: Arc<Node>) {
    Arc::into_inner(node).expect("the only handle").close().await.expect("close");
}

#[tokio::test]
async fn the_index_follows_the_store_and_is_rebuilt_when_damaged() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = open(dir.path()).await;
    let spool = publish(&node, example(dir.path(), "spool-holder")).await;
    assert_eq!(top(&node, "filament").await, ["Wall-mounted filament spool holder"]);
    // A design published after the index opened is found by the next search.
    let shield = publish(&node, example(dir.path(), "face-shield-headband")).await;
    let hits = node.search(&query("face shield")).await.expect("search");
    assert_eq!(hits.first().map(|h| h.design), Some(shield));
    assert!(hits[0].held && hits[0].score > 0.0);
    // The README is indexed too: the spool holder's mentions skateboard
    // bearings only in its manifest's function and its README.
    assert_eq!(
        top(&node, "fablab bench drag").await.first().map(String::as_str),
        Some("Wall-mounted filament spool holder")
    );
    // A removed design leaves the index.
    node.set_policy(PolicyAction::Remove(spool), "", 1).expect("remove");
    assert!(top(&node, "filament spool").await.iter().all(|n| n != "Wall-mounted filament spool holder"));
    close(node).await;

    let search_dir = dir.path().join("home/search");
    let folder = SearchIndex::folder(&search_dir);
    // Damaged: its metadata is garbage. Rebuilt from the store.
    std::fs::write(folder.join("meta.json"), b"{ not json").expect("damage");
    std::fs::create_dir_all(search_dir.join("index-v0")).expect("an older version");
    let node = open(dir.path()).await;
    assert_eq!(top(&node, "face shield").await.first().map(String::as_str), Some("Face-shield headband"));
    assert!(!search_dir.join("index-v0").exists(), "an index of another version is deleted");
    close(node).await;

    // Missing: built again.
    std::fs::remove_dir_all(&search_dir).expect("delete");
    let node = open(dir.path()).await;
    assert_eq!(top(&node, "visor").await.first().map(String::as_str), Some("Face-shield headband"));
    assert_eq!(node.search(&query("")).await.expect("search").len(), 1, "the removed design stays out");
    close(node).await;
}

#[tokio::test]
async fn designs_heard_of_are_found_from_the_catalog_but_never_replace_held_ones() {
    use communs_protocol::catalog::Announcement;
    use communs_protocol::fixtures;

    let dir = tempfile::tempdir().expect("tmp");
    let node = open(dir.path()).await;
    let shield = publish(&node, example(dir.path(), "face-shield-headband")).await;
    // A design of someone else, announced by a peer.
    let key = SecretKey::from_bytes(&[7; 32]);
    let genesis = fixtures::genesis(&key, "Solar food dryer", "CC-BY-SA-4.0", 1);
    let revision =
        fixtures::revision(&key, &genesis, communs_protocol::BlobHash::of(b"t"), "Solar food dryer", "CC-BY-SA-4.0");
    let heard = Announcement::new(genesis, Some(revision), None).expect("an announcement");
    node.offer_announcement(heard, key.author()).expect("offered");
    // Another node's announcement of the held design changes nothing.
    let shield_events = node.design_log(&shield).expect("log").events;
    let own = Announcement::new(shield_events[0].clone(), None, None).expect("an announcement of the shield");
    node.offer_announcement(own, author(9)).expect("offered");

    let hits = node.search(&query("solar dryer")).await.expect("search");
    assert_eq!((hits[0].name.as_str(), hits[0].held), ("Solar food dryer", false));
    let shields = node.search(&query("shield")).await.expect("search");
    assert_eq!(shields.iter().filter(|h| h.design == shield).count(), 1);
    assert!(shields.iter().all(|h| h.design != shield || h.held), "the held document stays");
    close(node).await;
    // A new process finds what its catalog holds: the index is compared
    // with the catalog by announcement id, not rebuilt from it.
    let node = open(dir.path()).await;
    assert_eq!(top(&node, "dryer").await, ["Solar food dryer"]);
    close(node).await;
}

#[tokio::test]
async fn a_design_whose_files_come_later_is_indexed_again_with_its_readme() {
    use communs_protocol::tree::{Tree, TreeEntry};
    use communs_protocol::{BlobHash, ValidatedPath, fixtures};

    let dir = tempfile::tempdir().expect("tmp");
    let node = open(dir.path()).await;
    // A peer's design: its events arrive before its files.
    let readme = b"# Pedal-powered grain mill\n\nGrinds maize and sorghum into flour.\n".to_vec();
    let entry = TreeEntry {
        path: ValidatedPath::new("README.md").expect("a path"),
        blob: BlobHash::of(&readme),
        size: readme.len() as u64,
        executable: false,
    };
    let tree = Tree::new(vec![entry]).expect("a tree");
    let key = SecretKey::from_bytes(&[9; 32]);
    let genesis = fixtures::genesis(&key, "Pedal grain mill", "CERN-OHL-S-2.0", 1);
    let revision = fixtures::revision(&key, &genesis, tree.hash(), "Pedal grain mill", "CERN-OHL-S-2.0");
    node.insert_events(&[genesis, revision]).expect("insert");
    assert_eq!(top(&node, "pedal").await, ["Pedal grain mill"], "found by its manifest at once");
    assert!(top(&node, "sorghum").await.is_empty(), "its README is not here yet");
    // The files arrive: the next search indexes the README.
    node.add_blob(tree.encode()).await.expect("tree");
    node.add_blob(readme).await.expect("readme");
    assert_eq!(top(&node, "sorghum flour").await, ["Pedal grain mill"]);
    close(node).await;
}
