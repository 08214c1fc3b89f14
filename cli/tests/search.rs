//! Search relevance: the designs of `examples/corpus/` published into a
//! real store, and queries whose best hits are known. The same answers
//! after the index is deleted or damaged (rebuilt from the store), and
//! through a running node's API.

mod support;

use std::path::{Path, PathBuf};

use support::Node;
use support::daemon::Daemon;

/// A query (words, then flags) and the name of the design that must come
/// first.
const TOP: &[(&[&str], &str)] = &[
    (&["face", "shield"], "Laser-cut face shield frame"),
    (&["spool", "holder"], "Top-mounted bearing spool holder"),
    (&["raspberry", "pi", "case"], "Vented Raspberry Pi 4 enclosure"),
    (&["din", "rail", "enclosure"], "DIN-rail enclosure for 100 x 80 mm PCBs"),
    (&["pcb", "enclosure"], "DIN-rail enclosure for 100 x 80 mm PCBs"),
    (&["mesh", "network"], "Solar LoRa mesh network node"),
    (&["off-grid", "text", "messages"], "Solar LoRa mesh network node"),
    (&["prosthetic", "hand"], "Wrist-powered prosthetic hand"),
    (&["cnc", "mill"], "Desktop CNC milling machine"),
    (&["bike", "trailer"], "Folding bicycle cargo trailer"),
    (&["dry", "fruit", "in", "the", "sun"], "Solar food dryer"),
    (&["microscope"], "Printed flexure microscope"),
    (&["malaria"], "Printed flexure microscope"),
    (&["wind", "turbine"], "Small axial-flux wind turbine"),
    (&["safe", "drinking", "water"], "Household slow sand water filter"),
    (&["hatch", "chicks"], "Arduino egg incubator"),
    (&["weather", "station"], "ESP32 weather station"),
    (&["pollution", "sensor"], "PM2.5 air quality monitor"),
    (&["honey"], "Kenyan top-bar beehive"),
    (&["bees"], "Kenyan top-bar beehive"),
    (&["compost"], "Rotary compost sifter"),
    (&["solder", "surface", "mount", "boards"], "Toaster oven reflow controller"),
    (&["syringe", "pump"], "Open syringe pump"),
    (&["blood", "plasma"], "Printed microcentrifuge"),
    (&["grow", "lettuce"], "Vertical hydroponic tower"),
    (&["building", "blocks", "from", "soil"], "Compressed earth block press"),
    (&["smoke", "wood", "stove"], "Rocket cookstove"),
    (&["ergonomic", "keyboard"], "Split ergonomic keyboard"),
    (&["i2c", "spi", "uart"], "USB logic analyser"),
    (&["electric", "bicycle", "battery"], "E-bike battery pack from 18650 cells"),
    (&["irrigation"], "Treadle irrigation pump"),
    (&["disaster"], "Flat-pack emergency shelter"),
    (&["walking", "frame"], "Adjustable walking frame"),
    (&["blind", "readers"], "Refreshable braille cell"),
    (&["refrigerator", "without", "electricity"], "Clay pot evaporative cooler"),
    (&["3d", "printer"], "CoreXY 3D printer"),
    (&["laser", "cutter"], "CO2 laser cutter"),
    // Filters.
    (&["--license", "TAPR-OHL-1.0"], "Split ergonomic keyboard"),
    (&["--keyword", "lora"], "Solar LoRa mesh network node"),
    (&["water", "--license", "CC0-1.0"], "Treadle irrigation pump"),
];

fn corpus() -> PathBuf {
    support::examples_dir().join("../corpus")
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

/// The names of the hits of `communs search ARGS`, best first.
fn names(node: &Node, args: &[&str]) -> Vec<String> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    let found = node.json(&all);
    found["hits"].as_array().expect("hits").iter().map(|h| h["name"].as_str().expect("name").to_owned()).collect()
}

/// Every query's top hit, and what it got instead when it is wrong.
fn misses(node: &Node) -> Vec<String> {
    TOP.iter()
        .filter_map(|(args, expected)| {
            let got = names(node, args);
            (got.first().map(String::as_str) != Some(*expected))
                .then(|| format!("{args:?}: expected {expected:?} first, got {:?}", &got[..got.len().min(3)]))
        })
        .collect()
}

#[test]
fn the_corpus_answers_each_query_with_the_design_expected_first() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "a");
    let other = Node::init(dir.path(), "b");
    let author_b = other.json(&["id"])["author"].as_str().expect("author").to_owned();
    let mut slugs: Vec<PathBuf> =
        std::fs::read_dir(corpus()).expect("examples/corpus").map(|e| e.expect("entry").path()).collect();
    slugs.sort();
    assert!(slugs.len() >= 30, "a corpus of at least 30 designs");
    for source in &slugs {
        let slug = source.file_name().expect("a name").to_str().expect("utf-8").to_owned();
        let folder = dir.path().join("designs").join(&slug);
        copy_dir(source, &folder);
        // Two designs are also maintained by a second author.
        let extra: &[&str] = if matches!(slug.as_str(), "prosthetic-hand" | "adjustable-walker") {
            &["--maintainer", &author_b]
        } else {
            &[]
        };
        node.publish(&folder, extra);
    }

    let wrong = misses(&node);
    assert!(wrong.is_empty(), "queries whose best hit is wrong:\n{}", wrong.join("\n"));

    // Filters keep only what they name.
    let mut by_author = names(&node, &["--author", &author_b]);
    by_author.sort();
    assert_eq!(by_author, ["Adjustable walking frame", "Wrist-powered prosthetic hand"]);
    let mut assistive = names(&node, &["assistive", "technology", "--limit", "2"]);
    assistive.sort();
    assert_eq!(assistive, ["Adjustable walking frame", "Wrist-powered prosthetic hand"]);
    let cc0 = node.json(&["search", "--license", "CC0-1.0"]);
    let hits = cc0["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 3, "{cc0}");
    assert!(hits.iter().all(|h| h["licenses"][0] == "CC0-1.0" && h["held"] == true), "{cc0}");
    assert_eq!(names(&node, &["--made"]), Vec::<String>::new(), "no make reports yet");
    assert_eq!(names(&node, &["enclosure", "--limit", "1"]).len(), 1);
    let text = node.run(&["search", "spool", "holder"]).ok().stdout;
    // The name, then the whole id (what other commands take) and license.
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Top-mounted bearing spool holder"), "{text}");
    let id_line = lines.next().expect("a second line");
    let id = id_line.split_whitespace().next().expect("an id");
    assert!(id.parse::<communs_protocol::DesignId>().is_ok(), "{text}");
    assert!(id_line.contains("[CERN-OHL-P-2.0]"), "{text}");
    node.run(&["show", id]).ok();
    assert_eq!(node.run(&["search", "submarine"]).ok().stdout, "No design matches.\n");

    // Deleted, then damaged: rebuilt from the store, with the same answers.
    let search_dir = node.home.join("search");
    std::fs::remove_dir_all(&search_dir).expect("delete the index");
    assert!(misses(&node).is_empty(), "after deleting the index");
    let folder = search_dir.join(format!("index-v{}", communs_node::search::SCHEMA_VERSION));
    for entry in std::fs::read_dir(folder).expect("the index again") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::write(&path, b"garbage").expect("damage");
        }
    }
    assert!(misses(&node).is_empty(), "after damaging the index");

    // A running node answers the same, through its API.
    let daemon = Daemon::start(&node, &[]);
    let wrong = misses(&daemon.node);
    assert!(wrong.is_empty(), "through the API:\n{}", wrong.join("\n"));
    assert_eq!(daemon.node.run(&["search", "spool", "holder"]).ok().stdout, text);
}

#[test]
fn show_okh_writes_the_manifest_as_okh_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "a");
    let folder = dir.path().join("solar-mesh-node");
    copy_dir(&corpus().join("solar-mesh-node"), &folder);
    let (design, _) = node.publish(&folder, &[]);
    let toml = node.run(&["show", &design, "--okh", "toml"]).ok().stdout;
    assert!(toml.contains("name = \"Solar LoRa mesh network node\""), "{toml}");
    assert!(toml.contains("license = \"CERN-OHL-S-2.0\""), "{toml}");
    let yml = node.run(&["show", &design, "--okh", "yml"]).ok().stdout;
    assert!(yml.contains("title: Solar LoRa mesh network node\n"), "{yml}");
    assert!(yml.contains("license:\n  hardware: CERN-OHL-S-2.0\n"), "{yml}");

    // A remix names its source as OKH v1 derivative-of.
    let fork = node.json(&["fork", &design, "--name", "Mesh node, larger panel"]);
    let remix = fork["design"].as_str().expect("design");
    let yml = node.run(&["show", remix, "--okh", "yml"]).ok().stdout;
    assert!(yml.contains(&format!("derivative-of:\n  title: Solar LoRa mesh network node ({design}@")), "{yml}");

    // The exported okh.toml publishes as the same manifest.
    let again = dir.path().join("again");
    std::fs::create_dir_all(&again).expect("mkdir");
    std::fs::write(again.join("okh.toml"), &toml).expect("write");
    let (copy, _) = node.publish(&again, &[]);
    assert_eq!(node.run(&["show", &copy, "--okh", "toml"]).ok().stdout, toml);

    // The same bytes through a running node; --json wraps them.
    let daemon = Daemon::start(&node, &[]);
    assert_eq!(daemon.node.run(&["show", &design, "--okh", "toml"]).ok().stdout, toml);
    let wrapped = daemon.node.json(&["show", &design, "--okh", "toml"]);
    assert_eq!((wrapped["file"].as_str(), wrapped["text"].as_str()), (Some("okh.toml"), Some(toml.as_str())));
}
