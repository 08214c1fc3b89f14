//! The catalog (spec/catalog.md) between real nodes on loopback: designs
//! a node has heard of, through a node that does not keep them; and a
//! hostile peer gossiping announcements that lie, are forged or too large.

mod support;

use std::time::Duration;

use communs_protocol::cbor::{self, Value};
use communs_protocol::fixtures;
use communs_protocol::limits::MAX_ANNOUNCEMENT_BYTES;
use communs_protocol::wire::CATALOG_TOPIC;
use communs_protocol::{BlobHash, SecretKey, SignedEvent};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, noise, tcp, yamux};
use serde_json::Value as Json;
use support::daemon::{Daemon, eventually};
use support::{Node, small_design, write_files};

/// The catalog entry of `design` on `node`, if any.
fn entry(node: &Node, design: &str) -> Option<Json> {
    let catalog = node.json(&["list", "--catalog", "--limit", "1000"]);
    catalog.as_array().expect("designs").iter().find(|d| d["design"] == design).cloned()
}

fn holders(entry: &Json) -> Vec<String> {
    entry["holders"]
        .as_array()
        .expect("holders")
        .iter()
        .map(|h| h["peer_id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn a_design_published_on_a_is_in_the_catalog_of_c_which_knows_only_b() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let (first, _) = a.node.publish(&small_design(dir.path(), "Lamp"), &["-m", "v1"]);
    // A's own catalog holds what it keeps, itself as the holder.
    let own = entry(&a.node, &first).expect("a's own design is in its catalog");
    assert_eq!((own["kept"].as_bool(), holders(&own)), (Some(true), vec![a.peer_id()]));

    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    let c = Daemon::start(&Node::init(dir.path(), "c"), &["--bootstrap", &b.addr, "--no-dht"]);
    eventually(10, "c is connected to b", || c.peers().contains(&b.peer_id()));
    // Published before C came: C hears of it by catch-up from B, which
    // keeps nothing of it but relays its catalog.
    eventually(20, "the design published on a is in c's catalog", || entry(&c.node, &first).is_some());
    let heard = entry(&c.node, &first).expect("entry");
    assert_eq!(heard["kept"], false);
    assert_eq!(heard["name"], "Lamp");
    assert_eq!(heard["license"], own["license"]);
    assert_eq!(heard["revision"], own["revision"], "the canonical revision a announced");
    assert!(holders(&heard).contains(&a.peer_id()), "a holds it: {heard}");
    assert_eq!(b.node.json(&["list"]).as_array().map(Vec::len), Some(0), "b follows nothing");
    assert_eq!(c.node.json(&["list"]).as_array().map(Vec::len), Some(0), "c follows nothing");
    assert_eq!(c.peers(), vec![b.peer_id()], "c knows only b");

    // While all are connected: a new design and a new revision reach C by
    // gossip (through B, which now keeps the first design and still
    // forwards its announcements), well before the next anti-entropy round.
    b.node.json(&["follow", &first]);
    eventually(10, "b keeps the first design", || entry(&b.node, &first).is_some_and(|e| e["kept"] == true));
    let (second, _) = a.node.publish(&small_design(&dir.path().join("2"), "Shelf"), &["-m", "v1"]);
    let folder = small_design(&dir.path().join("3"), "Lamp");
    write_files(&folder, &[("cad/part.scad", b"sphere(r = 12);\n")]);
    let (_, revision) = a.node.publish(&folder, &["--design", &first, "-m", "v2"]);
    eventually(15, "the new design and revision are in c's catalog", || {
        entry(&c.node, &second).is_some()
            && entry(&c.node, &first).is_some_and(|e| e["revision"] == Json::String(revision.clone()))
    });

    // The catalog is read from the store: the same offline.
    let online = c.node.run(&["list", "--catalog"]).ok().stdout;
    assert!(online.contains(&first) && online.contains("holders"), "{online}");
    let c_node = c.stop();
    assert_eq!(c_node.run(&["list", "--catalog"]).ok().stdout, online);
}

fn event(e: &SignedEvent) -> Value {
    Value::Bytes(e.bytes().to_vec())
}

/// Announcements the hostile peer gossips, each with the reason the node
/// gives: forged, lying (a revision of another design), too large.
fn hostile_announcements() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let key = SecretKey::from_bytes(&[7; 32]);
    let g1 = fixtures::genesis(&key, "Lie", "CERN-OHL-S-2.0", 1);
    let g2 = fixtures::genesis(&key, "Other", "CERN-OHL-S-2.0", 2);
    let r2 = fixtures::revision(&key, &g2, BlobHash::of(b"tree"), "Other", "CERN-OHL-S-2.0");
    let mut forged = g1.bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let encode = |items: Vec<Value>| cbor::encode(&Value::Array(items));
    let mut oversized = encode(vec![Value::Bytes(vec![0; MAX_ANNOUNCEMENT_BYTES]), Value::Null, Value::Null]);
    oversized.truncate(MAX_ANNOUNCEMENT_BYTES + 100);
    vec![
        ("a forged genesis", encode(vec![Value::Bytes(forged), Value::Null, Value::Null]), "bad-signature"),
        ("a revision of another design", encode(vec![event(&g1), event(&r2), Value::Null]), "other-design"),
        ("an oversized announcement", oversized, "too-large"),
    ]
}

/// Connects to `target`, waits until it subscribes to the catalog topic
/// and gossips `bytes`. Returns the swarm, still connected.
async fn gossip_as_hostile_peer(
    target: Multiaddr,
    bytes: Vec<u8>,
) -> libp2p::Swarm<gossipsub::Behaviour<gossipsub::IdentityTransform, gossipsub::AllowAllSubscriptionFilter>> {
    let topic = IdentTopic::new(CATALOG_TOPIC);
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .expect("tcp")
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(ValidationMode::Strict)
                .max_transmit_size(1 << 20)
                .build()
                .expect("config");
            gossipsub::Behaviour::<gossipsub::IdentityTransform, gossipsub::AllowAllSubscriptionFilter>::new(
                MessageAuthenticity::Signed(key.clone()),
                config,
            )
            .expect("gossipsub")
        })
        .expect("behaviour")
        .build();
    swarm.behaviour_mut().subscribe(&topic).expect("subscribe");
    swarm.dial(target).expect("dial");
    let subscribed = async {
        loop {
            if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { topic: t, .. }) = swarm.select_next_some().await
                && t == topic.hash()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), subscribed).await.expect("the node subscribes to the catalog");
    swarm.behaviour_mut().publish(topic, bytes).expect("gossip");
    let _ = tokio::time::timeout(Duration::from_millis(1000), async {
        loop {
            swarm.select_next_some().await;
        }
    })
    .await;
    swarm
}

#[test]
fn lying_forged_and_oversized_announcements_are_refused_with_a_reason_and_their_sender_penalised() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let (design, _) = a.node.publish(&small_design(dir.path(), "Lamp"), &["-m", "v1"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    eventually(20, "b heard of a's design", || entry(&b.node, &design).is_some());
    let catalog = |n: &Node| n.json(&["list", "--catalog"]);
    let (a_before, b_before) = (catalog(&a.node), catalog(&b.node));

    let target: Multiaddr = a.addr.parse().expect("multiaddr");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // One hostile identity per message: after its first invalid message a
    // sender is graylisted, and A ignores everything else it sends.
    for (what, bytes, reason) in hostile_announcements() {
        let swarm = runtime.block_on(gossip_as_hostile_peer(target.clone(), bytes));
        let hostile = swarm.local_peer_id().to_string();
        eventually(5, &format!("a logs why it refused {what}"), || {
            support::daemon::log(&a.node).contains(&format!("rejected a gossiped announcement ({reason})"))
        });
        let peers = a.node.json(&["peers"]);
        let score = peers
            .as_array()
            .expect("peers")
            .iter()
            .find(|p| p["peer_id"] == hostile.as_str())
            .and_then(|p| p["score"].as_f64());
        assert!(score.is_none_or(|s| s < -80.0), "after {what}, the sender keeps a score of {score:?}");
        // Nothing entered a catalog, on A or (since nothing was forwarded) on B.
        assert_eq!(catalog(&a.node), a_before, "after {what}");
        assert_eq!(catalog(&b.node), b_before, "after {what}");
    }
}
