//! The web UI as HTTP sees it (the browser's view is `ui_browser.rs`): each
//! page's HTML against what the store holds, the pictures of cards, files
//! served so that they run nothing, the login link, and publishing from an
//! upload.

mod support;

use std::path::Path;

use support::daemon::Daemon;
use support::http::{self, Answer, multipart};
use support::ui::{csrf_of, login_url};
use support::{Node, example, stl_cube, write_files};

/// A node named Ada holding the two example designs and a part with only
/// an STL, with a comment and a make report; the ids of the three.
struct Holding {
    node: Node,
    face_shield: String,
    spool_holder: String,
    cube: String,
    author: String,
}

fn holding(dir: &Path) -> Holding {
    let node = Node { home: dir.join("ada") };
    node.run(&["init", "--name", "Ada Lovelace"]).ok();
    let (face_shield, _) = node.publish(&example("face-shield-headband", dir), &["-m", "v1"]);
    let (spool_holder, _) = node.publish(&example("spool-holder", dir), &["-m", "v1"]);
    let cube_dir = dir.join("cube");
    write_files(&cube_dir, &[("cube.stl", &stl_cube()), ("README.md", b"# Calibration cube\n\nPrint it first.\n")]);
    let (cube, _) = node.publish(&cube_dir, &["--license", "CERN-OHL-P-2.0", "-m", "a cube"]);
    let photo = dir.join("print.png");
    std::fs::write(&photo, tiny_png()).expect("photo");
    node.json(&["comment", &face_shield, "-m", "Printed **twelve** of them."]);
    node.json(&[
        "made",
        &face_shield,
        "--outcome",
        "worked",
        "--material",
        "PETG",
        "--photo",
        photo.to_str().expect("utf-8"),
    ]);
    let author = node.run(&["id"]).ok().stdout.trim().to_owned();
    Holding { node, face_shield, spool_holder, cube, author }
}

/// A 1x1 PNG.
fn tiny_png() -> Vec<u8> {
    let hex = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2e5d8e50000000049454e44ae426082";
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

fn api(daemon: &Daemon) -> String {
    let running: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(daemon.node.home.join("api.json")).expect("api.json"))
            .expect("json");
    running["api"].as_str().expect("api").to_owned()
}

#[track_caller]
fn page(addr: &str, path: &str) -> String {
    let answer = http::get(addr, path);
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.text());
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"), "GET {path}");
    let csp = answer.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "GET {path}: {csp}");
    answer.text()
}

#[test]
fn every_page_shows_what_the_store_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let h = holding(dir.path());
    let daemon = Daemon::start(&h.node, &[]);
    let addr = api(&daemon);

    let home = page(&addr, "/");
    for (design, name) in [
        (&h.face_shield, "Face-shield headband"),
        (&h.spool_holder, "Wall-mounted filament spool holder"),
        (&h.cube, "cube"),
    ] {
        assert!(home.contains(&format!("href=\"/d/{design}\"")), "the home links {name}");
        assert!(home.contains(&format!("src=\"/d/{design}/card.png\"")), "{name} has a picture");
    }
    assert!(home.contains("Face-shield headband") && home.contains("CERN-OHL-S-2.0") && home.contains("Ada Lovelace"));

    let view = h.node.json(&["show", &h.face_shield]);
    let design = page(&addr, &format!("/d/{}", h.face_shield));
    assert!(design.contains("A face shield that a fablab can make in quantity"), "the README is rendered");
    assert!(design.contains(&format!("data-revision=\"{}\"", view["revision"].as_str().expect("revision"))));
    assert!(design.contains("id=\"canonical-head\""), "it is the canonical revision");
    for file in view["files"].as_array().expect("files") {
        assert!(design.contains(file["path"].as_str().expect("path")), "{file} is listed");
    }
    assert!(design.contains("data-open-3d") && design.contains("data-format=\"stl\""), "its STL opens in 3D");
    assert!(design.contains("Printed <strong>twelve</strong> of them."), "the comment, as Markdown");
    assert!(design.contains("data-outcome=\"worked\"") && design.contains("PETG"), "the make report");
    assert!(design.contains(&format!("/d/{}/attachments/", h.face_shield)), "with its photo");
    assert!(design.contains("published"), "the history");

    let search = page(&addr, "/search?q=headband");
    assert!(search.contains(&h.face_shield) && !search.contains(&h.spool_holder), "a search finds by words");
    let filtered = page(&addr, "/search?license=CERN-OHL-P-2.0");
    assert!(filtered.contains(&h.spool_holder) && filtered.contains(&h.cube) && !filtered.contains(&h.face_shield));

    let author = page(&addr, &format!("/a/{}", h.author));
    assert!(author.contains("Ada Lovelace") && author.contains(&h.spool_holder), "the author page");
    assert!(author.contains("Made (1)") && author.contains("data-outcome=\"worked\""), "with the makes they reported");
    let node = page(&addr, "/node");
    let status = h.node.json(&["node", "status"]);
    assert!(node.contains(status["peer_id"].as_str().expect("peer id")), "the node page");
    assert_eq!(http::get(&addr, "/d/design1notadesign").status, 400);
}

#[test]
fn every_card_has_a_picture_and_a_part_is_drawn_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let h = holding(dir.path());
    let daemon = Daemon::start(&h.node, &[]);
    let addr = api(&daemon);
    for design in [&h.face_shield, &h.spool_holder] {
        let card = http::get(&addr, &format!("/d/{design}/card.png"));
        assert_eq!((card.status, card.header("content-type")), (200, Some("image/svg+xml")), "its own picture");
    }
    let card = http::get(&addr, &format!("/d/{}/card.png", h.cube));
    assert_eq!((card.status, card.header("content-type")), (200, Some("image/png")), "a drawing of its STL");
    assert!(card.body.starts_with(b"\x89PNG"));
    let cached: Vec<_> = std::fs::read_dir(h.node.home.join("previews")).expect("a preview cache").collect();
    assert_eq!(cached.len(), 1, "drawn once, kept by blob hash");
    assert_eq!(http::get(&addr, &format!("/d/{}/card.png", h.cube)).body, card.body, "the same picture again");
}

#[test]
fn files_are_downloads_that_run_nothing_and_paths_stay_in_the_design() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node { home: dir.path().join("ada") };
    node.run(&["init"]).ok();
    let folder = dir.path().join("hostile");
    write_files(
        &folder,
        &[
            ("README.md", b"# Hostile\n\n<script>window.__pwned=1</script>\n\n<img src=x onerror=\"window.__pwned=1\">\n\n[click](javascript:window.__pwned=1)\n\n![evil](evil.svg)\n"),
            ("evil.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned=1\"><script>window.__pwned=1</script></svg>"),
            ("page.html", b"<script>window.__pwned=1</script>"),
            ("photo.png", &tiny_png()),
        ],
    );
    let (design, revision) = node.publish(&folder, &["--license", "MIT"]);
    let daemon = Daemon::start(&node, &[]);
    let addr = api(&daemon);

    let html = page(&addr, &format!("/d/{design}"));
    let readme = &html[html.find("id=\"readme\"").expect("a README")..];
    let readme = &readme[..readme.find("</section>").expect("its end")];
    for bad in ["<script", "onerror", "javascript:"] {
        assert!(!readme.contains(bad), "{bad} survived in {readme}");
    }
    assert!(readme.contains(&format!("src=\"/d/{design}/files/evil.svg?revision={revision}\"")), "{readme}");

    for (file, content_type, disposition) in [
        ("evil.svg", "image/svg+xml", "attachment"),
        ("page.html", "application/octet-stream", "attachment"),
        ("photo.png", "image/png", "inline"),
    ] {
        let answer = http::get(&addr, &format!("/d/{design}/files/{file}"));
        assert_eq!(answer.status, 200, "{file}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{file}");
        assert!(answer.header("content-disposition").is_some_and(|d| d.starts_with(disposition)), "{file}: {answer:?}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer.header("content-security-policy").is_some_and(|c| c.starts_with("sandbox")), "{file}");
    }
    for escape in ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2E%2E/%2E%2E/etc/passwd", "/etc/passwd"] {
        let answer = http::get(&addr, &format!("/d/{design}/files/{escape}"));
        assert_eq!(answer.status, 404, "{escape}: {}", answer.text());
    }

    // The whole revision as a zip holds exactly its files.
    let zip = http::get(&addr, &format!("/d/{design}/archive.zip"));
    assert_eq!((zip.status, zip.header("content-type")), (200, Some("application/zip")));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.body)).expect("a zip");
    let mut names: Vec<String> =
        (0..archive.len()).map(|i| archive.by_index(i).expect("entry").name().expect("a name").into_owned()).collect();
    names.sort();
    assert_eq!(names, ["README.md", "evil.svg", "page.html", "photo.png"]);
    let mut svg = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("evil.svg").expect("svg"), &mut svg).expect("read");
    assert!(svg.contains("onload"), "byte for byte");
}

/// Signs in through the one-time link: the session cookie (`name=value`)
/// and the page's CSRF token.
fn sign_in(node: &Node, addr: &str) -> (String, String) {
    let url = login_url(node);
    let path = url.strip_prefix(&format!("http://{addr}")).expect("a link to this node");
    let answer = http::get(addr, path);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let cookie = answer.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert_eq!(http::get(addr, path).status, 403, "a login link works once");
    let cookie = cookie.split(';').next().expect("name=value").to_owned();
    let home = http::request(addr, "GET", "/publish", &[("Cookie", &cookie)], []);
    (cookie, csrf_of(&home.text()))
}

fn post(addr: &str, path: &str, cookie: &str, content_type: &str, body: &[u8]) -> Answer {
    let origin = format!("http://{addr}");
    http::request(addr, "POST", path, &[("Cookie", cookie), ("Origin", &origin), ("Content-Type", content_type)], body)
}

#[test]
fn a_signed_in_browser_publishes_a_folder_then_a_new_revision_from_an_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node { home: dir.path().join("ada") };
    node.run(&["init", "--name", "Ada"]).ok();
    let daemon = Daemon::start(&node, &[]);
    let addr = api(&daemon);
    let (cookie, csrf) = sign_in(&node, &addr);

    // A folder input sends each file with its path under the folder picked.
    let stl = stl_cube();
    let (content_type, body) = multipart(
        &[("csrf", &csrf), ("message", "first"), ("license", "CERN-OHL-S-2.0")],
        &[("folder", "bracket/README.md", b"# Bracket\n"), ("folder", "bracket/parts/bracket.stl", &stl)],
    );
    let answer = post(&addr, "/publish", &cookie, &content_type, &body);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let location = answer.header("location").expect("to the new design").to_owned();
    let design = location.trim_start_matches("/d/").split('?').next().expect("id").to_owned();
    let view = node.json(&["show", &design]);
    let paths: Vec<&str> =
        view["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("path")).collect();
    assert_eq!(paths, ["README.md", "parts/bracket.stl"]);
    assert_eq!(view["license"], "CERN-OHL-S-2.0");

    // A zip with a top folder, as a forge gives one: a new revision.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [("bracket-main/README.md", &b"# Bracket v2\n"[..]), ("bracket-main/parts/bracket.stl", &stl)]
    {
        zip.start_file(name, zip::write::SimpleFileOptions::default()).expect("entry");
        std::io::Write::write_all(&mut zip, bytes).expect("bytes");
    }
    let archive = zip.finish().expect("zip").into_inner();
    let (content_type, body) = multipart(
        &[("csrf", &csrf), ("design", &design), ("message", "v2")],
        &[("archive", "bracket-main.zip", &archive)],
    );
    let answer = post(&addr, "/publish", &cookie, &content_type, &body);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let log = node.json(&["log", &design]);
    assert_eq!(log[0]["body"]["message"], "v2", "{log}");
    assert_eq!(view["manifest"]["name"], "bracket", "a design without a manifest is named after the folder picked");
    let readme = http::get(&addr, &format!("/d/{design}/files/README.md"));
    assert_eq!(readme.text(), "# Bracket v2\n");

    // An archive that climbs out of its folder is refused, and nothing is written.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("../escape.txt", zip::write::SimpleFileOptions::default()).expect("entry");
    std::io::Write::write_all(&mut zip, b"out").expect("bytes");
    let archive = zip.finish().expect("zip").into_inner();
    let (content_type, body) = multipart(&[("csrf", &csrf), ("design", &design)], &[("archive", "bad.zip", &archive)]);
    let answer = post(&addr, "/publish", &cookie, &content_type, &body);
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("not a relative path"), "{}", answer.text());
    assert!(!node.home.join("escape.txt").exists() && !node.home.join("uploads/escape.txt").exists());
    assert_eq!(node.json(&["log", &design]).as_array().expect("events").len(), 3, "nothing signed");

    // A comment with a photo, from the same session.
    let (content_type, body) =
        multipart(&[("csrf", &csrf), ("text", "Looks *good*")], &[("attachments", "shot.png", &tiny_png())]);
    let answer = post(&addr, &format!("/d/{design}/comment"), &cookie, &content_type, &body);
    assert_eq!(answer.status, 303, "{}", answer.text());
    let threads = node.json(&["comments", &design]);
    assert_eq!(threads["comments"][0]["text"], "Looks *good*");
    assert_eq!(threads["comments"][0]["attachments"][0]["name"], "shot.png");
}
