//! The web UI in a real browser: a headless Chromium (support/browser.rs)
//! drives a running node (`communs node run`) that holds the example
//! designs, a part-only STL design, a divergence, a stranger's
//! contribution and a make report with a photo; a second node holds a
//! hostile design whose README, SVG and HTML try to run script; and a
//! plain HTTP client shows that writes without the session cookie, from
//! another Origin or to another Host are refused.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/screenshots/ui-*.png` (their
//! paths are printed). Without chromium and chromedriver the browser tests
//! say they are skipped, unless `COMMUNS_REQUIRE_BROWSER=1`.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::browser::Browser;
use support::daemon::Daemon;
use support::http::request as http;
use support::ui::{addr_of, csrf_of, login_url};
use support::{Node, example, stl_cube, write_files};

// ---------------------------------------------------------------------------
// Content the tests publish.

/// A folder with a README and one STL part, and no manifest.
fn stl_design(root: &Path) -> PathBuf {
    let folder = root.join("cube-bracket");
    write_files(
        &folder,
        &[
            ("README.md", b"# Cube bracket\n\nA calibration cube that doubles as a bracket spacer.\n"),
            ("cube.stl", &stl_cube()),
        ],
    );
    folder
}

/// A design whose README, picture and files each try to run script: if
/// any ran, `window.__pwned` would be set and `marker` would be asked for
/// `/pwned`.
fn hostile_design(root: &Path, marker: &str) -> PathBuf {
    let folder = root.join("hostile");
    let call = format!("window.__pwned=1;fetch('{marker}/pwned').catch(()=>{{}});new Image().src='{marker}/pwned-img'");
    let readme = format!(
        "# Totally normal bracket\n\n\
         Sturdy and printable.\n\n\
         <script>{call}</script>\n\n\
         <img src=x onerror=\"{call}\">\n\n\
         <svg><script>{call}</script></svg>\n\n\
         [click me](javascript:window.__pwned=1)\n\n\
         [click me too](<javascript:{call}>)\n\n\
         <a href=\"javascript:{call}\" id=\"raw-js\">raw javascript link</a>\n\n\
         <iframe src=\"{marker}/pwned-frame\"></iframe>\n\n\
         ![evil picture](images/evil.svg)\n"
    );
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"360\" onload=\"{call}\">\
         <script>{call}</script>\
         <rect width=\"480\" height=\"360\" fill=\"#c33\"/>\
         <text x=\"20\" y=\"180\" font-size=\"40\" fill=\"white\">evil svg</text></svg>\n"
    );
    let html = format!("<!doctype html><html><body onload=\"{call}\"><script>{call}</script>evil</body></html>\n");
    let manifest = "okhv = \"OKH-LOSHv1.0\"\nname = \"Totally normal bracket\"\nlicense = \"CERN-OHL-S-2.0\"\n\
                    image = \"images/evil.svg\"\nreadme = \"README.md\"\n";
    write_files(
        &folder,
        &[
            ("okh.toml", manifest.as_bytes()),
            ("README.md", readme.as_bytes()),
            ("images/evil.svg", svg.as_bytes()),
            ("evil.html", html.as_bytes()),
        ],
    );
    folder
}

/// A listener that counts every connection made to it: the mark any
/// hostile script would leave.
fn marker() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("address");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut stream) = stream {
                let mut buffer = [0u8; 2048];
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        }
    });
    (format!("http://{addr}"), hits)
}

fn screenshot(browser: &Browser, name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots").join(format!("{name}.png"));
    browser.screenshot(&path);
    eprintln!("screenshot: {}", path.display());
    path
}

/// Waits until every `img` matched by `css` (made eager: they load
/// lazily) has loaded a picture (`naturalWidth > 0`); answers how many.
fn wait_for_pictures(browser: &Browser, css: &str) -> usize {
    let script = "const imgs = [...document.querySelectorAll(arguments[0])];\
                  for (const i of imgs) i.loading = 'eager';\
                  return imgs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = browser.execute(script, &[json!(css)]);
        let rows = last.as_array().expect("rows");
        if !rows.is_empty() && rows.iter().all(|r| r[1] == true && r[2].as_u64().unwrap_or(0) > 0) {
            return rows.len();
        }
        if rows.iter().all(|r| r[1] == true) && !rows.is_empty() {
            panic!("pictures that loaded as nothing ({css}): {last}");
        }
        assert!(Instant::now() < deadline, "pictures {css} did not load: {last}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_browser(test: &str) -> Option<Browser> {
    let browser = Browser::start();
    if browser.is_none() {
        eprintln!("{test}: skipped: no chromium and chromedriver (set COMMUNS_REQUIRE_BROWSER=1 to fail instead)");
    }
    browser
}

fn status(node: &Node, design: &str) -> Value {
    node.json(&["status", design])
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array().expect("a list").iter().map(|row| row[key].as_str().expect("an id").to_owned()).collect()
}

// ---------------------------------------------------------------------------
// The node the walk-through uses.

struct World {
    ada: Daemon,
    /// `127.0.0.1:port` of its API and UI.
    addr: String,
    face_shield: String,
    spool_holder: String,
    cube: String,
    /// The spool holder's canonical and competing heads.
    canonical: String,
    competing: String,
    /// Grace's open contribution to the face shield.
    contribution: String,
    /// Last: removed once the node has stopped.
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let ada = Node { home: dir.path().join("ada") };
    ada.json(&["init", "--name", "Ada Lovelace"]);
    let (face_shield, _) = ada.publish(&example("face-shield-headband", dir.path()), &[]);
    let (spool_holder, _) = ada.publish(&example("spool-holder", dir.path()), &[]);
    let (cube, _) = ada.publish(&stl_design(dir.path()), &["--license", "CERN-OHL-S-2.0"]);

    // A divergence: two revisions on the same base.
    let (one, two) = (dir.path().join("spool-1"), dir.path().join("spool-2"));
    for folder in [&one, &two] {
        ada.json(&["get", &spool_holder, folder.to_str().expect("utf-8")]);
    }
    write_files(&one, &[("bom.csv", b"part,quantity\nM8 rod 200 mm,1\n")]);
    write_files(&two, &[("bom.csv", b"part,quantity\nM8 rod 160 mm,1\n")]);
    ada.publish(&one, &["-m", "a longer rod"]);
    ada.publish(&two, &["-m", "a shorter rod"]);
    let heads = status(&ada, &spool_holder);
    let canonical = heads["canonical"].as_str().expect("a canonical head").to_owned();
    let competing = ids(&heads["competing_heads"], "revision");
    assert_eq!(competing.len(), 1, "one competing head: {heads}");
    let competing = competing[0].clone();

    // Grace, a stranger, gets the face shield by bundle and contributes.
    let grace = Node { home: dir.path().join("grace") };
    grace.json(&["init", "--name", "Grace"]);
    let bundle = dir.path().join("face-shield.communs");
    let bundle = bundle.to_str().expect("utf-8");
    ada.json(&["bundle", "export", &face_shield, bundle]);
    grace.json(&["bundle", "import", bundle]);
    let work = dir.path().join("grace-work");
    grace.json(&["get", &face_shield, work.to_str().expect("utf-8")]);
    write_files(&work, &[("NOTES.md", b"# Notes\n\nPrinted 40 of them; the strap slot needs 0.5 mm more.\n")]);
    let (_, contribution) = grace.publish(&work, &["--design", &face_shield, "-m", "wider strap slot"]);
    let back = dir.path().join("from-grace.communs");
    let back = back.to_str().expect("utf-8");
    grace.json(&["bundle", "export", &face_shield, back]);

    // Ada's node runs; from now on her CLI talks to it.
    let ada = Daemon::start(&ada, &["--no-dht"]);
    ada.node.json(&["bundle", "import", back]);
    let open = status(&ada.node, &face_shield);
    assert!(ids(&open["open"], "revision").contains(&contribution), "grace's revision is open at ada's: {open}");

    let addr = addr_of(&login_url(&ada.node));

    // The STL design's card is a PNG the node drew; it is also the photo
    // of a make report.
    let card = http(&addr, "GET", &format!("/d/{cube}/card.png"), &[], "");
    assert_eq!(card.status, 200, "{card:?}");
    assert_eq!(card.header("content-type"), Some("image/png"), "{card:?}");
    assert!(card.body.starts_with(b"\x89PNG\r\n\x1a\n"), "{card:?}");
    let photo = dir.path().join("printed-cube.png");
    std::fs::write(&photo, &card.body).expect("photo");
    ada.node.json(&[
        "made",
        &cube,
        "--outcome",
        "worked",
        "--material",
        "PETG",
        "--photo",
        photo.to_str().expect("utf-8"),
        "-m",
        "Printed at 0.2 mm.",
    ]);

    World { _dir: dir, ada, addr, face_shield, spool_holder, cube, canonical, competing, contribution }
}

// ---------------------------------------------------------------------------
// The tests.

/// Home, search, a design page (README, canonical and competing heads, a
/// make report's photo), the 3D view and approving a stranger's revision,
/// all by a real browser signed in with `communs ui`'s link.
#[test]
fn a_browser_reads_searches_views_in_3d_and_approves() {
    let started = Instant::now();
    let Some(browser) = start_browser("a_browser_reads_searches_views_in_3d_and_approves") else { return };
    let w = world();
    eprintln!("node ready in {:?}", started.elapsed());
    let base = format!("http://{}", w.addr);

    // Signing in: the one-time link sets the cookie and lands on the home.
    browser.goto(&login_url(&w.ada.node));
    assert_eq!(browser.current_url(), format!("{base}/"));
    browser.find("header.top .signed-in");
    assert!(browser.try_find("header.top .read-only").is_none());

    // The home: a card for each design, each with a picture.
    let cards = browser.find_all("#held a.card");
    let designs: Vec<String> = cards.iter().map(|c| c.attr("data-design").expect("data-design")).collect();
    for design in [&w.face_shield, &w.spool_holder, &w.cube] {
        assert!(designs.contains(design), "no card for {design} on the home: {designs:?}");
    }
    let pictures = wait_for_pictures(&browser, "a.card img");
    assert_eq!(pictures, designs.len());
    screenshot(&browser, "ui-home");

    // Search from the home's filters: the spool holder by words of its
    // function, and not the cube.
    let words = browser.find("form.filters input[name=q]");
    words.send_keys("filament bearings");
    browser.find("form.filters button[type=submit]").click();
    browser.wait_until("the search results", Browser::TIMEOUT, |b| b.current_url().contains("/search?"));
    let found: Vec<String> =
        browser.find_all("ul.cards a.card").iter().map(|c| c.attr("data-design").expect("data-design")).collect();
    assert!(found.contains(&w.spool_holder), "the search did not find the spool holder: {found:?}");
    assert!(!found.contains(&w.cube), "{found:?}");
    assert!(browser.find("p.count").text().contains("found"));
    screenshot(&browser, "ui-search");

    // The design page from the card: README, canonical head, the competing
    // head of the divergence.
    browser.find(&format!("ul.cards a.card[data-design='{}']", w.spool_holder)).click();
    browser.wait_until("the design page", Browser::TIMEOUT, |b| b.current_url().contains(&w.spool_holder));
    let readme = browser.find("#readme").text();
    assert!(readme.contains("608"), "the README text is not on the page: {readme}");
    let canonical = browser.find("#canonical a").attr("href").expect("a link");
    assert!(canonical.ends_with(&w.canonical), "canonical {canonical} is not {}", w.canonical);
    let competing = browser.find(&format!("ul.competing li[data-revision='{}']", w.competing));
    assert!(competing.text().contains("approvals"), "{}", competing.text());
    wait_for_pictures(&browser, "section.pictures img");
    screenshot(&browser, "ui-design");

    // The make report with its photo.
    browser.goto(&format!("{base}/d/{}", w.cube));
    let make = browser.find("#makes li.make[data-outcome=worked]");
    assert!(make.text().contains("PETG"), "{}", make.text());
    wait_for_pictures(&browser, "#makes li.make img.photo");
    assert!(browser.find("#readme").text().contains("calibration cube"));

    // A click opens the 3D view of the STL part.
    let button = browser.find("button[data-open-3d]");
    assert_eq!(button.attr("data-format").as_deref(), Some("stl"));
    button.click();
    browser.wait_until("the 3D view", Duration::from_secs(30), |b| {
        b.try_find(".viewer[data-state=ready]").is_some() || b.try_find(".viewer[data-state=error]").is_some()
    });
    let viewer = browser.find(".viewer[data-state]");
    assert_eq!(viewer.attr("data-state").as_deref(), Some("ready"), "the viewer failed: {}", viewer.text());
    assert_eq!(viewer.attr("data-triangles").as_deref(), Some("12"));
    assert!(browser.try_find("canvas").is_some(), "no canvas in the 3D view");
    browser.execute("document.querySelector('.viewer').scrollIntoView({block: 'center'});", &[]);
    screenshot(&browser, "ui-3d");

    // Approving Grace's contribution from the browser: the design page
    // lists it, the confirmation shows what will be signed, the CLI then
    // sees Ada's approval.
    browser.goto(&format!("{base}/d/{}", w.face_shield));
    let open = browser.find(&format!("ul.open li[data-revision='{}']", w.contribution));
    open.try_find("a.approve").expect("an approve link for a signed-in maintainer").click();
    let to_sign = browser.find("#to-sign").text();
    assert!(to_sign.contains(&w.contribution) && to_sign.contains("approve"), "{to_sign}");
    assert!(to_sign.contains("parents") && to_sign.contains("clock"), "{to_sign}");
    screenshot(&browser, "ui-confirm");
    let confirm = browser.current_url();

    // The design moves before Ada signs (her own comment, from the CLI):
    // the event she reviewed is not the one the node would sign any more,
    // so nothing is signed and the page asks her to look again.
    let before = status(&w.ada.node, &w.face_shield);
    w.ada.node.json(&["comment", &w.face_shield, "-m", "Looking at Grace's slot."]);
    browser.find("form.confirm button.approve").click();
    browser
        .wait_until("the refusal of a stale confirmation", Browser::TIMEOUT, |b| b.source().contains("changed since"));
    assert_eq!(status(&w.ada.node, &w.face_shield), before, "nothing was signed");

    browser.goto(&confirm);
    browser.find("form.confirm button.approve").click();
    browser.wait_until("back on the design page", Browser::TIMEOUT, |b| {
        b.current_url().contains(&format!("/d/{}", w.face_shield)) && !b.current_url().contains("/approve")
    });
    let after = status(&w.ada.node, &w.face_shield);
    let ada = w.ada.node.json(&["id"])["author"].as_str().expect("author").to_owned();
    let approved = after["canonical"] == w.contribution.as_str()
        || after["open"].as_array().expect("open").iter().any(|row| {
            row["revision"] == w.contribution.as_str()
                && row["approvals"].as_array().expect("a list").contains(&json!(ada))
        });
    assert!(approved, "`communs status` does not show ada's approval:\nbefore {before}\nafter {after}");
    assert_ne!(before, after);
    assert!(
        browser.try_find(&format!("ul.open li[data-revision='{}'] a.approve", w.contribution)).is_none(),
        "the page still offers to approve"
    );

    // The browser's own session and the page's CSRF token, from another
    // site's Origin: refused; from this one: the follow goes through.
    let cookie = browser
        .cookies()
        .into_iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("communs_session_")))
        .expect("the session cookie");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    let cookie = format!("{}={}", cookie["name"].as_str().expect("name"), cookie["value"].as_str().expect("value"));
    w.ada.node.json(&["unfollow", &w.cube]);
    browser.goto(&format!("{base}/d/{}", w.cube));
    let csrf = browser.find("input[name=csrf]").prop("value");
    let form = format!("csrf={}", csrf.as_str().expect("a token"));
    let post = |origin: &str| {
        http(
            &w.addr,
            "POST",
            &format!("/d/{}/follow", w.cube),
            &[("Cookie", &cookie), ("Origin", origin), ("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
    };
    assert_eq!(post("http://evil.example").status, 403);
    let followed = post(&base);
    assert_eq!(followed.status, 303, "{followed:?}");
    assert!(ids_of(&w.ada.node.json(&["policy"])["followed"]).contains(&w.cube));

    eprintln!("CSP refusals seen by Chromium: {:#?}", browser.csp_violations());
    eprintln!("a_browser_reads_searches_views_in_3d_and_approves: {:?}", started.elapsed());
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(|v| v.as_str().expect("an id").to_owned()).collect()
}

/// A design whose README and SVG embed `<script>`, `onerror=` and
/// `javascript:` runs nothing: not on its page, not in its card, not when
/// its links are clicked, not when its SVG or HTML files are opened.
#[test]
fn a_hostile_design_runs_nothing_in_the_browser() {
    let started = Instant::now();
    let Some(browser) = start_browser("a_hostile_design_runs_nothing_in_the_browser") else { return };
    let (marker, hits) = marker();
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node { home: dir.path().join("mallory-host") };
    node.json(&["init", "--name", "Host"]);
    let (design, _) = node.publish(&hostile_design(dir.path(), &marker), &[]);
    let daemon = Daemon::start(&node, &["--no-dht"]);
    let base = format!("http://{}", addr_of(&login_url(&daemon.node)));
    // Downloads are refused, so a file opened stays unopened on disk too.
    browser
        .command(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({"cmd": "Browser.setDownloadBehavior", "params": {"behavior": "deny"}})),
        )
        .expect("downloads denied");
    let pwned = |b: &Browser| b.execute("return typeof window.__pwned;", &[]) != json!("undefined");

    // The detectors work: this browser reaches the marker, and a script
    // that runs leaves `window.__pwned`.
    browser.goto(&format!("{marker}/control"));
    std::thread::sleep(Duration::from_millis(500));
    let reached = hits.load(Ordering::SeqCst);
    assert!(reached >= 1, "the browser never reached the marker");
    browser.goto(&format!("{base}/"));
    browser.execute("window.__pwned = 1;", &[]);
    assert!(pwned(&browser), "the detector does not see a script that ran");
    // And the node really holds the payloads it is about to show.
    let raw = http(&addr_of(&base), "GET", &format!("/d/{design}/files/README.md"), &[], "").text();
    for payload in ["<script>window.__pwned", "onerror=", "(javascript:", "<iframe"] {
        assert!(raw.contains(payload), "the README lacks {payload}: {raw}");
    }

    // Signed in: the page offers the most to a script that would run.
    browser.goto(&login_url(&daemon.node));
    let card = browser.find(&format!("a.card[data-design='{design}']"));
    assert!(card.text().contains("Totally normal bracket"));
    wait_for_pictures(&browser, "a.card img");
    assert!(!pwned(&browser), "the home ran the design's script");

    browser.goto(&format!("{base}/d/{design}"));
    let readme = browser.find("#readme");
    assert!(readme.text().contains("Sturdy and printable"), "{}", readme.text());
    wait_for_pictures(&browser, "section.pictures img");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!pwned(&browser), "the design page ran the design's script");
    // Nothing of the payloads is left that could run: no script but the
    // node's own, no event handler, no `javascript:` URL, no frame.
    let left = browser.execute(
        "const bad = [];\
         for (const el of document.querySelectorAll('*')) {\
           for (const a of el.attributes) {\
             const v = a.value.replace(/\\s/g, '').toLowerCase();\
             if (a.name.startsWith('on') || v.startsWith('javascript:')) bad.push(el.tagName + ' ' + a.name + '=' + a.value);\
           }\
         }\
         for (const s of document.scripts) if (s.getAttribute('src') !== '/ui/assets/ui.js') bad.push(s.outerHTML);\
         for (const f of document.querySelectorAll('iframe, object, embed, svg script')) bad.push(f.outerHTML);\
         return bad;",
        &[],
    );
    assert_eq!(left, json!([]), "parts of the payloads survived into the page");
    screenshot(&browser, "ui-hostile");

    // Links whose `javascript:` was taken away: clicking them runs nothing.
    for link in browser.find_all("#readme a") {
        let href = link.attr("href").unwrap_or_default();
        assert!(!href.to_ascii_lowercase().starts_with("javascript"), "{href}");
        if link.text().contains("click me") || link.text().contains("raw javascript") {
            link.click();
            std::thread::sleep(Duration::from_millis(300));
            assert!(!pwned(&browser), "clicking {href:?} ran script");
        }
    }

    // The files themselves: downloads under a sandbox, never pages.
    for (path, kind) in [("images/evil.svg", "image/svg+xml"), ("evil.html", "application/octet-stream")] {
        let answer = http(&addr_of(&base), "GET", &format!("/d/{design}/files/{path}"), &[], "");
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("content-type"), Some(kind), "{answer:?}");
        assert!(answer.header("content-disposition").is_some_and(|d| d.starts_with("attachment")), "{answer:?}");
        assert!(answer.header("content-security-policy").is_some_and(|c| c.contains("sandbox")), "{answer:?}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        // Opened in the browser: nothing runs (the navigation may fail as
        // a refused download; what matters is the page and the marker).
        let opened =
            browser.command("POST", "/url", Some(&json!({ "url": format!("{base}/d/{design}/files/{path}") })));
        std::thread::sleep(Duration::from_millis(300));
        eprintln!("opening {path}: {:?}, the browser is on {}", opened.map(|_| "done"), browser.current_url());
        assert!(!pwned(&browser), "opening {path} ran its script");
    }
    let card = http(&addr_of(&base), "GET", &format!("/d/{design}/card.png"), &[], "");
    assert_eq!(card.header("content-disposition").map(|d| d.starts_with("attachment")), Some(true), "{card:?}");
    browser.goto(&format!("{base}/d/{design}/card.png"));
    std::thread::sleep(Duration::from_millis(300));
    browser.goto(&format!("{base}/d/{design}"));
    assert!(!pwned(&browser));

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hits.load(Ordering::SeqCst), reached, "a hostile script reached the marker");
    let violations = browser.csp_violations();
    eprintln!("CSP refusals seen by Chromium on the hostile design: {violations:#?}");
    eprintln!("a_hostile_design_runs_nothing_in_the_browser: {:?}", started.elapsed());
}

/// Writes need the session cookie, this node's Origin, this node's Host
/// and the session's CSRF token; reads need this node's Host. No browser.
#[test]
fn writes_without_the_cookie_or_from_elsewhere_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::init(dir.path(), "ada");
    let (design, _) = node.publish(&support::small_design(dir.path(), "Hinge"), &["--license", "MIT"]);
    let daemon = Daemon::start(&node, &["--no-dht"]);
    node.json(&["unfollow", &design]);
    assert!(!ids_of(&node.json(&["policy"])["followed"]).contains(&design));

    // A session as a browser would get it.
    let url = login_url(&daemon.node);
    let addr = addr_of(&url);
    let origin = format!("http://{addr}");
    let login = http(&addr, "GET", url.strip_prefix(&origin).expect("a path"), &[], "");
    assert_eq!(login.status, 303, "{login:?}");
    let set_cookie = login.header("set-cookie").expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let page = http(&addr, "GET", &format!("/d/{design}"), &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());
    // Not `no-referrer`: under it a browser posts the UI's own forms with
    // `Origin: null`, which the Origin check refuses.
    assert_eq!(page.header("referrer-policy"), Some("same-origin"), "{page:?}");

    let follow = format!("/d/{design}/follow");
    let form = |csrf: &str| format!("csrf={csrf}");
    let post = |headers: &[(&str, &str)], body: &str| {
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        http(&addr, "POST", &follow, &all, body)
    };
    let no_cookie = post(&[("Origin", &origin)], &form(&csrf));
    assert_eq!(no_cookie.status, 401, "without the cookie: {no_cookie:?}");
    let foreign_origin = post(&[("Cookie", &cookie), ("Origin", "http://evil.example")], &form(&csrf));
    assert_eq!(foreign_origin.status, 403, "a foreign Origin: {foreign_origin:?}");
    let no_origin = post(&[("Cookie", &cookie)], &form(&csrf));
    assert_eq!(no_origin.status, 403, "no Origin: {no_origin:?}");
    let foreign_host = post(&[("Cookie", &cookie), ("Origin", &origin), ("Host", "evil.example")], &form(&csrf));
    assert_eq!(foreign_host.status, 403, "a foreign Host: {foreign_host:?}");
    let rebound = format!("evil.example:{}", addr.rsplit(':').next().expect("port"));
    let rebound_origin = format!("http://{rebound}");
    let rebinding = post(&[("Cookie", &cookie), ("Origin", &rebound_origin), ("Host", &rebound)], &form(&csrf));
    assert_eq!(rebinding.status, 403, "DNS rebinding (Host and Origin agree, not this node): {rebinding:?}");
    let wrong_csrf = post(&[("Cookie", &cookie), ("Origin", &origin)], &form(&"0".repeat(64)));
    assert_eq!(wrong_csrf.status, 403, "a wrong CSRF token: {wrong_csrf:?}");
    let no_csrf = post(&[("Cookie", &cookie), ("Origin", &origin)], "");
    assert_eq!(no_csrf.status, 403, "no CSRF token: {no_csrf:?}");
    let forged_cookie = post(
        &[("Cookie", &format!("{}=00", cookie.split('=').next().expect("name"))), ("Origin", &origin)],
        &form(&csrf),
    );
    assert_eq!(forged_cookie.status, 401, "a forged cookie: {forged_cookie:?}");
    assert!(!ids_of(&node.json(&["policy"])["followed"]).contains(&design), "a refused write changed the policy");

    // Everything right: done, and back to the design.
    let done = post(&[("Cookie", &cookie), ("Origin", &origin)], &form(&csrf));
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.header("location"), Some(format!("/d/{design}").as_str()));
    assert!(ids_of(&node.json(&["policy"])["followed"]).contains(&design), "the follow is in the policy");

    // Reads need this node's Host too.
    let read = http(&addr, "GET", "/", &[("Host", "evil.example")], "");
    assert_eq!(read.status, 403, "{read:?}");
    let read = http(&addr, "GET", &format!("/d/{design}"), &[("Host", &rebound)], "");
    assert_eq!(read.status, 403, "{read:?}");
    assert_eq!(http(&addr, "GET", "/", &[], "").status, 200);
    // A login link is used once.
    let again = http(&addr, "GET", url.strip_prefix(&origin).expect("a path"), &[], "");
    assert_eq!(again.status, 403, "{again:?}");
    drop(daemon);
}
