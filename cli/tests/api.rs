//! The local HTTP API of a real running node: every route's answers
//! against the OpenAPI document it serves, and random requests, valid and
//! not, that must never crash it nor write without the token.
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::daemon::Daemon;
use support::{Node, small_design};

/// One raw HTTP/1.1 exchange with the node's API.
struct Api {
    addr: String,
    token: String,
}

/// What the node answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Api {
    fn of(daemon: &Daemon) -> Api {
        let running: Value =
            serde_json::from_str(&std::fs::read_to_string(daemon.node.home.join("api.json")).expect("api.json"))
                .expect("json");
        let token = std::fs::read_to_string(daemon.node.home.join("api-token")).expect("token");
        Api { addr: running["api"].as_str().expect("api").to_owned(), token }
    }

    fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], None)
    }

    fn post(&self, path: &str, body: &Value) -> Answer {
        let token = format!("Bearer {}", self.token);
        self.send("POST", path, &[("Authorization", &token)], Some(body.to_string().as_bytes()))
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
        self.try_send(method, path, headers, body).unwrap_or_else(|| panic!("no answer to {method} {path}"))
    }

    /// The answer, if the connection gave one.
    fn try_send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Option<Answer> {
        use std::io::{Read, Write};
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut stream = std::net::TcpStream::connect(&self.addr).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        if let Some(body) = body {
            // A node may answer (413) before reading a huge body, and close.
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))).collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 2 + size + 2..];
        }
        body = out;
    }
    Some(Answer { status, headers, body })
}

/// The OpenAPI document, and which of its operations a test called.
struct Document {
    doc: Value,
    called: BTreeSet<(String, String)>,
}

impl Document {
    /// Checks `answer` to `method template` against the document: its
    /// status must be documented (or a documented `4XX`/`5XX` range), and
    /// its JSON body valid against that response's schema.
    #[track_caller]
    fn check(&mut self, method: &str, template: &str, answer: &Answer) {
        self.called.insert((method.to_owned(), template.to_owned()));
        let operation = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {template} is not in the OpenAPI document");
        let responses = &operation["responses"];
        let status = answer.status.to_string();
        let range = format!("{}XX", &status[..1]);
        let response =
            [&status, &range].into_iter().map(|key| &responses[key.as_str()]).find(|r| r.is_object()).unwrap_or_else(
                || panic!("{method} {template} answered {status}, which it does not document: {answer:?}"),
            );
        let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
            return;
        };
        let mut schema = Value::Object(schema.clone());
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema).expect("a valid schema");
        let body = answer.json();
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{method} {template} ({status}) does not match its schema: {errors:?}\n{body:#}");
    }
}

#[test]
fn every_route_answers_what_its_openapi_document_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "a");
    let daemon = Daemon::start(&node, &[]);
    let api = Api::of(&daemon);
    let (design, revision) = daemon.node.publish(&small_design(dir.path(), "Spool holder"), &["-m", "v1"]);
    let served = api.get("/v1/openapi.json");
    assert_eq!(served.status, 200);
    let mut doc = Document { doc: served.json(), called: BTreeSet::new() };
    assert_eq!(doc.doc["openapi"].as_str().map(|v| &v[..2]), Some("3."), "an OpenAPI 3 document");

    // The checker itself: a body that breaks the schema is caught.
    let wrong = Answer { status: 200, headers: Vec::new(), body: br#"{"designs": 3, "more": false}"#.to_vec() };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.check("GET", "/v1/designs", &wrong)));
    assert!(caught.is_err(), "a wrong body passes the schema check");

    let d = format!("/v1/designs/{design}");
    for (path, template) in [
        ("/v1/node".to_owned(), "/v1/node"),
        ("/v1/peers".to_owned(), "/v1/peers"),
        ("/v1/designs".to_owned(), "/v1/designs"),
        ("/v1/designs?limit=1".to_owned(), "/v1/designs"),
        (d.clone(), "/v1/designs/{design}"),
        (format!("{d}?revision={revision}"), "/v1/designs/{design}"),
        (format!("{d}/log?limit=1"), "/v1/designs/{design}/log"),
        (format!("{d}/status"), "/v1/designs/{design}/status"),
        ("/v1/policy".to_owned(), "/v1/policy"),
        ("/v1/search?q=spool".to_owned(), "/v1/search"),
        ("/v1/search?q=spool&network=true".to_owned(), "/v1/search"),
        ("/v1/search?license=CERN-OHL-S-2.0&keyword=x&author=nobody&made=true&limit=5".to_owned(), "/v1/search"),
        (format!("{d}/okh.toml"), "/v1/designs/{design}/okh.toml"),
        (format!("{d}/okh.yml?revision={revision}"), "/v1/designs/{design}/okh.yml"),
        ("/v1/okh/list.json".to_owned(), "/v1/okh/list.json"),
        ("/v1/catalog".to_owned(), "/v1/catalog"),
        (format!("/v1/catalog?limit=1&after={design}"), "/v1/catalog"),
        // Errors are documented too.
        ("/v1/search?limit=x".to_owned(), "/v1/search"),
        ("/v1/designs/design1notanid/okh.yml".to_owned(), "/v1/designs/{design}/okh.yml"),
        ("/v1/catalog?after=design1notanid".to_owned(), "/v1/catalog"),
        ("/v1/designs/design1notanid".to_owned(), "/v1/designs/{design}"),
        (format!("{d}/log?before={design}"), "/v1/designs/{design}/log"),
    ] {
        let answer = api.get(&path);
        doc.check("GET", template, &answer);
    }
    let found = api.get("/v1/search?q=spool+holder").json();
    assert_eq!(found["hits"][0]["design"], design.as_str(), "{found}");
    let toml = api.get(&format!("{d}/okh.toml"));
    assert_eq!(toml.header("content-type"), Some("application/toml"));
    assert!(String::from_utf8_lossy(&toml.body).contains("name = \"Spool holder\""), "{toml:?}");
    let list = api.get("/v1/okh/list.json").json();
    let url = list["manifests"][0]["okh_yml"].as_str().expect("a manifest URL");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with(&format!("{d}/okh.yml")), "{list}");
    let listed = api.get("/v1/designs").json();
    assert_eq!(listed["designs"][0]["design"], design.as_str(), "{listed}");
    let unknown =
        api.get(&format!("/v1/designs/{}", "design1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"));
    if unknown.status == 404 {
        assert_eq!(unknown.json()["reason"], "unknown-design");
    }

    // A file, as its bytes, inert in a browser.
    let file = api.get(&format!("{d}/files/cad/part.scad"));
    assert_eq!(file.status, 200, "{file:?}");
    assert_eq!(file.body, b"cube([10, 20, 3]);\n");
    assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
    assert!(file.header("content-disposition").is_some_and(|v| v.starts_with("attachment")), "{file:?}");
    doc.called.insert(("GET".to_owned(), "/v1/designs/{design}/files/{path}".to_owned()));
    let missing = api.get(&format!("{d}/files/cad/none.scad"));
    doc.check("GET", "/v1/designs/{design}/files/{path}", &missing);
    assert_eq!((missing.status, missing.json()["reason"].as_str()), (404, Some("unknown-file")));

    let second = small_design(dir.path(), "Spool holder, wide");
    let out = dir.path().join("out");
    let bundle = dir.path().join("all.communs");
    let other = Node::init(dir.path(), "b");
    let author_b = other.json(&["id"])["author"].as_str().expect("author").to_owned();
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, b"not really a jpeg").expect("photo");
    for (path, template, body) in [
        ("/v1/designs".to_owned(), "/v1/designs", json!({ "dir": second, "message": "wider" })),
        (format!("{d}/get"), "/v1/designs/{design}/get", json!({ "dir": out })),
        (format!("{d}/get"), "/v1/designs/{design}/get", json!({ "dir": out })),
        (format!("{d}/fork"), "/v1/designs/{design}/fork", json!({ "name": "Spool holder remix" })),
        (format!("{d}/retractions"), "/v1/designs/{design}/retractions", json!({ "target": revision })),
        (format!("{d}/approvals"), "/v1/designs/{design}/approvals", json!({ "target": revision })),
        (format!("{d}/approvals"), "/v1/designs/{design}/approvals", json!({ "target": revision })),
        (
            format!("{d}/proposals"),
            "/v1/designs/{design}/proposals",
            json!({ "change": { "change": "add-maintainer", "author": author_b } }),
        ),
        (format!("{d}/sync"), "/v1/designs/{design}/sync", json!({})),
        ("/v1/sync".to_owned(), "/v1/sync", json!({})),
        ("/v1/dial".to_owned(), "/v1/dial", json!({ "address": "/ip4/127.0.0.1/tcp/9" })),
        ("/v1/dial".to_owned(), "/v1/dial", json!({ "address": "not an address" })),
        ("/v1/policy".to_owned(), "/v1/policy", json!({ "action": "follow", "design": design })),
        ("/v1/policy".to_owned(), "/v1/policy", json!({ "action": "pin", "design": design, "revision": revision })),
        ("/v1/policy".to_owned(), "/v1/policy", json!({ "action": "mute", "author": author_b, "reason": "test" })),
        ("/v1/gc".to_owned(), "/v1/gc", json!({})),
        ("/v1/fsck".to_owned(), "/v1/fsck", json!({})),
        ("/v1/bundles/export".to_owned(), "/v1/bundles/export", json!({ "all": true, "file": bundle })),
        ("/v1/bundles/export".to_owned(), "/v1/bundles/export", json!({ "file": bundle })),
        ("/v1/bundles/import".to_owned(), "/v1/bundles/import", json!({ "file": bundle })),
        ("/v1/backup".to_owned(), "/v1/backup", json!({ "dir": dir.path().join("backup"), "files": true })),
        ("/v1/backup".to_owned(), "/v1/backup", json!({ "dir": dir.path().join("backup") })),
        ("/v1/policy".to_owned(), "/v1/policy", json!({ "action": "follow" })),
        (
            format!("{d}/comments"),
            "/v1/designs/{design}/comments",
            json!({ "text": "Printed it.", "attachments": [photo] }),
        ),
        (format!("{d}/comments"), "/v1/designs/{design}/comments", json!({ "text": "" })),
        (
            format!("{d}/makes"),
            "/v1/designs/{design}/makes",
            json!({ "outcome": "worked", "material": "PETG", "settings": { "infill": "20 %" }, "photos": [photo] }),
        ),
        (format!("{d}/makes"), "/v1/designs/{design}/makes", json!({ "outcome": "exploded" })),
        ("/v1/profile".to_owned(), "/v1/profile", json!({ "name": "Ada", "links": ["https://ada.example.org"] })),
        ("/v1/policy".to_owned(), "/v1/policy", json!({ "action": "name", "author": author_b, "name": "Bob" })),
    ] {
        let answer = api.post(&path, &body);
        doc.check("POST", template, &answer);
    }
    let author_a = daemon.node.json(&["id"])["author"].as_str().expect("author").to_owned();
    for (path, template) in [
        (format!("{d}/comments"), "/v1/designs/{design}/comments"),
        (format!("{d}/makes"), "/v1/designs/{design}/makes"),
        (format!("/v1/authors/{author_a}"), "/v1/authors/{author}"),
        (format!("/v1/authors/{author_b}"), "/v1/authors/{author}"),
        ("/v1/authors/author1nope".to_owned(), "/v1/authors/{author}"),
    ] {
        let answer = api.get(&path);
        doc.check("GET", template, &answer);
    }
    assert_eq!(api.get(&format!("/v1/authors/{author_a}")).json()["shown_name"], "Ada");
    assert_eq!(api.get(&format!("/v1/authors/{author_b}")).json()["shown_name"], "Bob");
    assert_eq!(api.get(&format!("{d}/makes")).json()["reports"][0]["settings"]["infill"], "20 %");
    // The second get into the same folder is refused (not empty): still
    // documented, still JSON. The first wrote the files.
    assert_eq!(support::snapshot(&out), support::snapshot(&dir.path().join("Spool holder")));
    assert_eq!(api.get(&format!("{d}/status")).json()["pinned"], revision.as_str());
    assert!(api.get("/v1/designs").json()["designs"].as_array().expect("designs").len() >= 3, "published and forked");

    let documented: BTreeSet<(String, String)> = doc.doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().expect("path item").keys().map(|m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    let untested: Vec<_> = documented.difference(&doc.called).collect();
    assert!(untested.is_empty(), "routes the test does not call: {untested:?}");
}

/// What a request could have changed: the policy log and every design's
/// events.
fn fingerprint(api: &Api) -> (usize, Vec<(String, u64)>) {
    let policy = api.get("/v1/policy").json();
    let designs = api.get("/v1/designs?limit=1000").json();
    let events = designs["designs"]
        .as_array()
        .expect("designs")
        .iter()
        .map(|d| (d["design"].as_str().expect("id").to_owned(), d["events"].as_u64().expect("events")))
        .collect();
    (policy["log"].as_array().expect("log").len(), events)
}

/// The parts of a random request.
#[derive(Debug, Clone)]
struct Random {
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    token: Option<bool>,
    origin: bool,
}

fn requests(design: String, revision: String, scratch: String) -> impl Strategy<Value = Random> {
    let ids = prop_oneof![
        Just(design.clone()),
        Just(revision.clone()),
        Just("design1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq".to_owned()),
        "[a-z0-9%./]{0,80}",
    ];
    let path = (
        prop_oneof![
            Just("/v1/designs/{}"),
            Just("/v1/designs/{}/log"),
            Just("/v1/designs/{}/status"),
            Just("/v1/designs/{}/files/{}"),
            Just("/v1/designs/{}/get"),
            Just("/v1/designs/{}/fork"),
            Just("/v1/designs/{}/approvals"),
            Just("/v1/designs/{}/retractions"),
            Just("/v1/designs/{}/proposals"),
            Just("/v1/designs/{}/sync"),
            Just("/v1/designs/{}/okh.toml"),
            Just("/v1/designs/{}/okh.yml"),
            Just("/v1/search"),
            Just("/v1/okh/list.json"),
            Just("/v1/designs"),
            Just("/v1/policy"),
            Just("/v1/catalog"),
            Just("/v1/gc"),
            Just("/v1/fsck"),
            Just("/v1/bundles/export"),
            Just("/v1/bundles/import"),
            Just("/v1/node"),
            Just("/v1/{}"),
        ],
        ids.clone(),
        ids.clone(),
        prop_oneof![Just(String::new()), "\\?[a-z]{1,8}=[a-z0-9%]{0,70}".prop_map(|q| q)],
    )
        .prop_map(|(template, a, b, query)| format!("{}{query}", template.replacen("{}", &a, 1).replacen("{}", &b, 1)));
    let value = prop_oneof![
        Just(json!(design)),
        Just(json!(revision)),
        Just(json!(scratch)),
        Just(json!(null)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        "[ -~]{0,40}".prop_map(|s| json!(s)),
    ];
    let field = prop_oneof![
        Just("design"),
        Just("revision"),
        Just("target"),
        Just("author"),
        Just("action"),
        Just("dir"),
        Just("file"),
        Just("limit"),
        Just("all"),
        Just("force"),
        Just("change"),
        Just("name"),
    ];
    let body = prop_oneof![
        Just(None),
        Just(Some(b"{".to_vec())),
        Just(Some(vec![b'a'; 64 << 10])),
        prop::collection::btree_map(field, value, 0..5)
            .prop_map(|fields| Some(serde_json::to_vec(&fields).expect("json"))),
        (prop_oneof![Just("follow"), Just("mute"), Just("pin"), Just("remove"), Just("unpin"), Just("jump")],)
            .prop_map(move |(action,)| Some(
                json!({ "action": action, "design": design, "author": design }).to_string().into_bytes()
            )),
    ];
    (
        prop_oneof![Just("GET"), Just("POST"), Just("POST"), Just("PUT"), Just("DELETE")],
        path,
        body,
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        any::<bool>(),
    )
        .prop_map(|(method, path, body, token, origin)| Random { method, path, body, token, origin })
}

#[test]
fn random_requests_never_crash_the_api_nor_write_without_the_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let daemon = Daemon::start(&Node::init(dir.path(), "a"), &[]);
    let api = Api::of(&daemon);
    let (design, revision) = daemon.node.publish(&small_design(dir.path(), "Cable clip"), &["-m", "v1"]);
    // Paths a random request may name: only inside this test's folder.
    let scratch = dir.path().join("scratch").display().to_string();
    let config = ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(request in requests(design.clone(), revision.clone(), scratch.clone()))| {
        let before = fingerprint(&api);
        let mut headers: Vec<(&str, String)> = Vec::new();
        match request.token {
            Some(true) => headers.push(("Authorization", format!("Bearer {}", api.token))),
            Some(false) => headers.push(("Authorization", "Bearer 00".to_owned())),
            None => {}
        }
        if request.origin {
            headers.push(("Origin", "http://evil.example".to_owned()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = api.send(request.method, &request.path, &headers, request.body.as_deref());
        prop_assert!(answer.status < 500 || answer.status == 502 || answer.status == 503,
            "{} {} answered {}: {}", request.method, request.path, answer.status, String::from_utf8_lossy(&answer.body));
        let trusted = request.token == Some(true) && !request.origin;
        if !trusted && request.method != "GET" {
            prop_assert!(matches!(answer.status, 401 | 403 | 404 | 405), "{} {}: {}", request.method, request.path, answer.status);
            prop_assert_eq!(fingerprint(&api), before, "{} {} changed the node without the token", request.method, request.path);
        }
        if answer.status >= 400 && answer.body.first() == Some(&b'{') {
            prop_assert!(answer.json()["error"].is_string());
        }
    });
    // A body over the limit is refused before it is read whole (the node
    // may reset the connection under the rest of it): no crash either.
    let token = format!("Bearer {}", api.token);
    let huge = vec![b' '; 3 << 20];
    if let Some(answer) = api.try_send("POST", "/v1/policy", &[("Authorization", &token)], Some(&huge)) {
        assert_eq!(answer.status, 413, "{answer:?}");
    }
    // The node is still up and sound.
    assert_eq!(api.get("/v1/node").status, 200);
    let fsck = api.post("/v1/fsck", &json!({})).json();
    assert_eq!(fsck["ok"], true, "{fsck}");
}
