//! Two fablabs without a network: designs and remixes travel on bundles,
//! and both stores end up holding and showing the same things.

use std::path::Path;

use communs_node::fork::ForkRequest;
use communs_node::progress::NoProgress;
use communs_node::publish::PublishRequest;
use communs_node::{Home, Node, keyfile};

async fn open(dir: &Path, name: &str) -> Node {
    let home = Home::locate(Some(&dir.join(name))).expect("home");
    keyfile::load_or_create(&home).expect("identity");
    Node::open(home).await.expect("open")
}

fn design_folder(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join("headband");
    std::fs::create_dir_all(folder.join("cad")).expect("mkdir");
    std::fs::write(
        folder.join("okh.toml"),
        "okhv = \"OKH-LOSHv1.0\"\nname = \"Headband\"\nlicense = \"CERN-OHL-S-2.0\"\n",
    )
    .expect("write");
    std::fs::write(folder.join("cad/band.scad"), "cube([100, 20, 3]);\n").expect("write");
    folder
}

#[tokio::test]
async fn a_design_and_its_remix_travel_both_ways_on_bundles() {
    let dir = tempfile::tempdir().expect("tmp");
    let lab_a = open(dir.path(), "lab-a").await;
    let lab_b = open(dir.path(), "lab-b").await;

    let folder = design_folder(dir.path());
    let request = PublishRequest { folder, now_ms: 1, ..PublishRequest::default() };
    let published = lab_a.publish(request, &NoProgress).await.expect("publish");

    let to_b = dir.path().join("a-to-b.communs");
    lab_a.bundle_export(&published.design, &to_b, &NoProgress).await.expect("export");
    lab_b.bundle_import(&to_b, &NoProgress).await.expect("import");

    let remix = lab_b
        .fork(ForkRequest {
            source: published.design,
            revision: None,
            name: Some("Headband, wide".into()),
            license: None,
            now_ms: 2,
        })
        .expect("fork");
    let to_a = dir.path().join("b-to-a.communs");
    lab_b.bundle_export(&remix.design, &to_a, &NoProgress).await.expect("export");
    lab_a.bundle_import(&to_a, &NoProgress).await.expect("import");

    let summary = |node: &Node| {
        node.list(None, usize::MAX)
            .expect("list")
            .into_iter()
            .map(|d| (d.design, d.name, d.canonical, d.fork_of))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&lab_a), summary(&lab_b));
    assert_eq!(summary(&lab_a).len(), 2);
    let remix_view = lab_a.show(&remix.design, None).await.expect("show");
    assert_eq!(remix_view.genesis.fork_of, Some((published.design, published.revision)));
    assert!(lab_a.fsck(&NoProgress).await.expect("fsck").is_clean());
    assert!(lab_b.fsck(&NoProgress).await.expect("fsck").is_clean());
    lab_a.close().await.expect("close");
    lab_b.close().await.expect("close");
}
