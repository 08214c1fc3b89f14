//! A hostile peer against real nodes: a libp2p swarm in this process that
//! gossips a forged event, malformed bytes, an oversized message, an event
//! that lies about its clock, an outsider's validly signed approval, an
//! oversized comment, a make report of a revision that is not in its past
//! and a profile declaring a 50 MB avatar; and a node whose stored file was
//! altered, so that it serves bytes that do not match their hash.

mod support;

use std::time::Duration;

use communs_protocol::cbor::{self, Value as CborValue};
use communs_protocol::wire::{shard, shard_topic};
use communs_protocol::{
    Attachment, Body, Comment, DesignId, EventId, MakeReport, Outcome, Profile, SecretKey, UnsignedEvent,
};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, noise, tcp, yamux};
use serde_json::Value;
use support::daemon::{Daemon, eventually};
use support::{Node, blob_data_file, small_design, snapshot, write_files};

fn log_ids(node: &Node, design: &str) -> Vec<String> {
    let log = node.json(&["log", design]);
    log.as_array().expect("log").iter().map(|e| e["id"].as_str().expect("id").to_owned()).collect()
}

/// The head of a design's log as (id, clock).
fn head(node: &Node, design: &str) -> (EventId, u64) {
    let log = node.json(&["log", design]);
    let newest = &log.as_array().expect("log")[0];
    (newest["id"].as_str().expect("id").parse().expect("event id"), newest["clock"].as_u64().expect("clock"))
}

/// Messages the hostile peer gossips, in order.
fn hostile_messages(design: DesignId, head: EventId, clock: u64) -> Vec<(&'static str, Vec<u8>)> {
    let key = SecretKey::from_bytes(&[7; 32]);
    let approve = |clock: u64| {
        UnsignedEvent {
            design: Some(design),
            author: key.author(),
            parents: vec![head],
            clock,
            time: 1,
            body: Body::Approve { target: head },
        }
        .sign(&key)
        .expect("sign")
    };
    let mut forged = approve(clock + 1).bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x01; // a bit of the signature
    let sign = |design: Option<DesignId>, parents: Vec<EventId>, clock: u64, body: Body| {
        UnsignedEvent { design, author: key.author(), parents, clock, time: 1, body }.sign(&key).expect("sign")
    };
    // Valid events, then one field made to break a rule (the signature no
    // longer matters: the rule is checked first).
    let broken = |event: communs_protocol::SignedEvent, field: usize, value: CborValue| {
        let Ok(CborValue::Array(mut items)) = cbor::decode(event.bytes(), 1 << 20) else { panic!("an event") };
        if let CborValue::Array(body) = &mut items[6] {
            body[field] = value;
        }
        cbor::encode(&CborValue::Array(items))
    };
    let comment = sign(
        Some(design),
        vec![head],
        clock + 1,
        Body::Comment(Comment { on: None, text: "fine".into(), attachments: vec![] }),
    );
    let elsewhere = EventId::from_hash(communs_protocol::Hash::of(b"a revision of nowhere"));
    let made = sign(
        Some(design),
        vec![head],
        clock + 1,
        Body::MakeReport(MakeReport {
            revision: elsewhere,
            outcome: Outcome::Worked,
            process: String::new(),
            machine: String::new(),
            material: String::new(),
            settings: vec![],
            notes: String::new(),
            photos: vec![],
        }),
    );
    let profile = sign(
        None,
        vec![],
        1,
        Body::Profile(Profile {
            name: "Mallory".into(),
            bio: String::new(),
            place: String::new(),
            links: vec![],
            avatar: Some(Attachment { name: "me.png".into(), blob: communs_protocol::BlobHash::of(b"x"), size: 1 }),
        }),
    );
    let avatar = CborValue::Array(vec![
        CborValue::Text("me.png".into()),
        CborValue::Bytes(vec![7; 32]),
        CborValue::Integer(50_000_000u64.into()),
    ]);
    vec![
        ("an oversized comment", broken(comment, 2, CborValue::Text("x".repeat(8 * 1024 + 1)))),
        ("a make report of a revision not in its past", made.bytes().to_vec()),
        ("a profile declaring a 50 MB avatar", broken(profile, 5, avatar)),
        ("a forged event", forged),
        ("malformed bytes", b"\xa1\x01\x02 this is not an event".to_vec()),
        ("an event that lies about its clock", approve(clock + 40).bytes().to_vec()),
        // Valid in every byte, but its author maintains nothing: the
        // design's rules refuse it (governance.md, "Admission").
        ("an outsider's validly signed approval", approve(clock + 1).bytes().to_vec()),
        // Last: the receiver drops the stream it arrives on.
        ("an oversized message", vec![0x42; 200 * 1024]),
    ]
}

/// Connects to `target`, waits until it subscribes to `topic` and gossips
/// the messages. Returns the swarm, still connected.
async fn gossip_as_hostile_peer(
    target: Multiaddr,
    topic: IdentTopic,
    messages: Vec<(&'static str, Vec<u8>)>,
) -> libp2p::Swarm<gossipsub::Behaviour<gossipsub::IdentityTransform, gossipsub::AllowAllSubscriptionFilter>> {
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
    tokio::time::timeout(Duration::from_secs(20), subscribed).await.expect("the node subscribes to the shard");
    // One message at a time, each in its own frame: an oversized frame
    // makes the receiver drop the whole frame.
    for (what, bytes) in messages {
        if let Err(e) = swarm.behaviour_mut().publish(topic.clone(), bytes) {
            panic!("cannot gossip {what}: {e}");
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                swarm.select_next_some().await;
            }
        })
        .await;
    }
    swarm
}

#[test]
fn hostile_gossip_is_rejected_not_forwarded_and_its_sender_penalised() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    let (design, _) = a.node.publish(&small_design(dir.path(), "Lamp"), &["-m", "v1"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &a.addr, "--no-dht"]);
    b.node.json(&["follow", &design]);
    let before = log_ids(&a.node, &design);
    assert_eq!(log_ids(&b.node, &design), before);

    let design_id: DesignId = design.parse().expect("design id");
    let (head_id, clock) = head(&a.node, &design);
    let topic = IdentTopic::new(shard_topic(shard(&design_id)));
    let target: Multiaddr = a.addr.parse().expect("multiaddr");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // One hostile identity per message: after its first invalid message a
    // sender is graylisted, and A ignores everything else it sends.
    for (what, bytes) in hostile_messages(design_id, head_id, clock) {
        let swarm = runtime.block_on(gossip_as_hostile_peer(target.clone(), topic.clone(), vec![(what, bytes)]));
        let hostile = swarm.local_peer_id().to_string();
        // Nothing was stored, on A or (since nothing was forwarded) on B.
        assert_eq!(log_ids(&a.node, &design), before, "after {what}");
        assert_eq!(log_ids(&b.node, &design), before, "after {what}");
        // A penalised the sender, unless the message never got past the
        // framing (an oversized one is dropped before validation).
        if what != "an oversized message" {
            let peers = a.node.json(&["peers"]);
            let score = peers
                .as_array()
                .expect("peers")
                .iter()
                .find(|p| p["peer_id"] == hostile.as_str())
                .and_then(|p| p["score"].as_f64());
            assert!(score.is_none_or(|s| s < -80.0), "after {what}, the sender keeps a score of {score:?}");
        }
    }
    let log = support::daemon::log(&a.node);
    for reason in ["rejected a gossiped message", "rejected event"] {
        assert!(log.contains(reason), "a's log lacks {reason:?}:\n{log}");
    }

    // The honest nodes are unaffected.
    let folder = small_design(&dir.path().join("v2"), "Lamp");
    write_files(&folder, &[("cad/part.scad", b"cylinder(r = 20, h = 3);\n")]);
    let (_, second) = a.node.publish(&folder, &["--design", &design, "-m", "v2"]);
    eventually(10, "b gets a's next revision", || {
        b.node.json(&["status", &design])["canonical"] == Value::String(second.clone())
    });
}

#[test]
fn a_peer_serving_a_large_file_whose_bytes_do_not_match_is_refused_and_another_serves_it() {
    // Large enough for a stream of its own.
    refused_then_served(800_000, &[]);
}

#[test]
fn a_peer_serving_a_small_file_whose_bytes_do_not_match_is_refused_and_another_serves_it() {
    // Small files travel several to a stream: the damaged one among others
    // (an empty one too, which needs no peer).
    let mut others: Vec<(String, Vec<u8>)> =
        (0..5u8).map(|i| (format!("parts/part-{i}.stl"), vec![i; 20_000 + usize::from(i)])).collect();
    others.push(("parts/empty.stl".to_owned(), Vec::new()));
    refused_then_served(100_000, &others);
}

/// A publishes a design whose file `cad/shelf.stl` has `size` bytes (beside
/// `others`); H holds the same design with that file damaged on disk. B,
/// knowing only H, fails naming the blob and stores nothing; knowing A too,
/// it gets every file, verified.
fn refused_then_served(size: u32, others: &[(String, Vec<u8>)]) {
    let dir = tempfile::tempdir().expect("tmp");
    let a_node = Node::init(dir.path(), "a");
    let folder = small_design(dir.path(), "Shelf");
    // Larger than the store keeps inline, so it lives in a data file.
    let big: Vec<u8> = (0..size / 4).flat_map(|i| i.to_le_bytes()).collect();
    let mut files: Vec<(&str, &[u8])> = vec![("cad/shelf.stl", &big)];
    files.extend(others.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice())));
    write_files(&folder, &files);
    let (design, _) = a_node.publish(&folder, &["-m", "v1"]);
    let blob = blake3::hash(&big).to_hex().to_string();

    let h_node = Node::init(dir.path(), "h");
    let bundle = dir.path().join("shelf.communs");
    a_node.json(&["bundle", "export", &design, bundle.to_str().expect("utf-8")]);
    h_node.json(&["bundle", "import", bundle.to_str().expect("utf-8")]);
    let data = blob_data_file(&h_node.home, &blob);
    let mut damaged = std::fs::read(&data).expect("read");
    damaged[size as usize / 2] ^= 0xff;
    std::fs::write(&data, damaged).expect("write");

    let h = Daemon::start(&h_node, &["--no-dht"]);
    let b = Daemon::start(&Node::init(dir.path(), "b"), &["--bootstrap", &h.addr, "--no-dht"]);
    b.node.json(&["follow", &design]);
    let out = dir.path().join("b-checkout");
    let failed = b.node.run(&["get", &design, out.to_str().expect("utf-8")]);
    let failed = failed.fails_with(1, &blob);
    assert!(!out.join("cad/shelf.stl").exists(), "{failed:?}");
    let fsck = b.node.run(&["--json", "fsck"]);
    assert_eq!(fsck.code, 0, "b's store is sound: {fsck:?}");

    let a = Daemon::start(&a_node, &["--no-dht"]);
    let b = Daemon::start(&b.stop(), &["--bootstrap", &a.addr, "--bootstrap", &h.addr, "--no-dht"]);
    eventually(10, "b is connected to a and h", || b.peers().len() == 2);
    b.node.json(&["get", &design, out.to_str().expect("utf-8"), "--force"]);
    assert_eq!(snapshot(&out), snapshot(&folder));
}

/// The framing of spec/search.md (a 4-byte big-endian length, then the
/// message), for a peer written here.
#[derive(Clone, Default)]
struct SearchCodec;

impl libp2p::request_response::Codec for SearchCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = communs_protocol::search::Query;
    type Response = communs_protocol::search::Response;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &libp2p::StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Self::Request> {
        let bytes = read_frame(io).await?;
        communs_protocol::search::Query::decode(&bytes).map_err(std::io::Error::other)
    }

    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &libp2p::StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Self::Response> {
        let bytes = read_frame(io).await?;
        communs_protocol::search::Response::decode(&bytes).map_err(std::io::Error::other)
    }

    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &libp2p::StreamProtocol,
        io: &mut T,
        request: Self::Request,
    ) -> std::io::Result<()> {
        write_frame(io, &request.encode()).await
    }

    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &libp2p::StreamProtocol,
        io: &mut T,
        response: Self::Response,
    ) -> std::io::Result<()> {
        write_frame(io, &response.encode()).await
    }
}

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<Vec<u8>> {
    use futures::AsyncReadExt;
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let mut bytes = vec![0u8; (u32::from_be_bytes(len) as usize).min(1 << 20)];
    io.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> std::io::Result<()> {
    use futures::AsyncWriteExt;
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

#[test]
fn a_peer_flooding_searches_is_refused_busy_then_penalised_and_an_honest_one_answered() {
    use communs_protocol::search::{Query, Refusal, Response};
    use libp2p::request_response::{self, ProtocolSupport};

    let dir = tempfile::tempdir().expect("tmp");
    let a = Daemon::start(&Node::init(dir.path(), "a"), &["--no-dht"]);
    a.node.publish(&small_design(dir.path(), "Lamp shade"), &["-m", "v1"]);
    let target: Multiaddr = a.addr.parse().expect("multiaddr");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (answers, flooder) = runtime.block_on(async {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
            .expect("tcp")
            .with_behaviour(|_| {
                request_response::Behaviour::<SearchCodec>::new(
                    [(libp2p::StreamProtocol::new(communs_protocol::search::SEARCH_PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default(),
                )
            })
            .expect("behaviour")
            .build();
        swarm.dial(target.clone()).expect("dial");
        let peer: libp2p::PeerId = a.peer_id().parse().expect("peer id");
        let query = Query { text: "lamp".into(), limit: 5, ..Query::default() };
        // A burst of 30 searches at once: the first ten are answered.
        for _ in 0..30 {
            swarm.behaviour_mut().send_request(&peer, query.clone());
        }
        let mut answers = Vec::new();
        let collect = async {
            while answers.len() < 30 {
                if let SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) = swarm.select_next_some().await
                {
                    answers.push(response);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), collect).await.expect("every search answered");
        (answers, swarm.local_peer_id().to_string())
    });
    let hits = answers.iter().filter(|r| matches!(r, Response::Hits(h) if !h.is_empty())).count();
    let busy = answers.iter().filter(|r| **r == Response::Refused(Refusal::Busy)).count();
    assert_eq!((hits, busy), (10, 20), "{answers:?}");
    let peers = a.node.json(&["peers"]);
    let score = peers
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["peer_id"] == flooder.as_str())
        .and_then(|p| p["score"].as_f64());
    assert!(score.is_none_or(|s| s < -80.0), "the flooder keeps a score of {score:?}");
    assert!(support::daemon::log(&a.node).contains("penalised: floods searches"));
}
