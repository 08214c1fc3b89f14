//! The browser harness (support/browser.rs) on a page of its own, without
//! the node: clicks, waits, the console, a file upload, a screenshot,
//! cookies, and proof that a strict CSP stops inline script — the way the
//! web UI's tests show that untrusted content runs nothing.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use support::browser::{Browser, base64_decode};

const CSP: &str = "default-src 'self'; script-src 'self'";

/// A page whose "untrusted" part tries to run script three ways; each
/// would leave a mark (the title, `window.__pwned`, a request to /pwned).
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title>
<script src="/app.js"></script>
</head><body>
<button id="go">Go</button>
<p id="out"></p>
<input id="name" value="first">
<input id="file" type="file">
<div id="untrusted">
<script>document.title = "pwned"; window.__pwned = 1; fetch("/pwned");</script>
<img src="/missing.png" onerror="window.__pwned = 2; fetch('/pwned')">
</div>
</body></html>
"#;

const APP: &str = r#"
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("go").addEventListener("click", () => {
    document.getElementById("out").textContent = "clicked";
    console.log("harness: clicked");
    console.warn("harness: warned");
    console.error("harness: failed");
  });
});
"#;

/// Serves [`PAGE`] and `/app.js` under [`CSP`] on a loopback port, in a
/// thread of its own; counts the requests to `/pwned`.
fn serve() -> (String, Arc<AtomicUsize>) {
    let pwned = Arc::new(AtomicUsize::new(0));
    let hits = pwned.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let router = Router::new()
                .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }))
                .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP) }))
                .route(
                    "/pwned",
                    get(move || async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        "pwned".into_response()
                    }),
                )
                .layer(axum::middleware::map_response(|mut response: axum::response::Response| async move {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CSP));
                    response
                }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
            tx.send(listener.local_addr().expect("address")).expect("the test waits");
            axum::serve(listener, router).await.expect("serving");
        });
    });
    let addr = rx.recv().expect("the server starts");
    (format!("http://{addr}"), pwned)
}

#[test]
fn base64_of_screenshots() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk"), b"hi");
    assert_eq!(base64_decode(""), b"");
}

#[test]
fn drives_chromium_on_a_strict_csp_page() {
    let (base, pwned) = serve();
    let started = Instant::now();
    let Some(browser) = Browser::start() else {
        eprintln!("skipped: no chromium and chromedriver");
        return;
    };
    eprintln!("chromedriver and chromium with a session in {:?}", started.elapsed());

    browser.goto(&format!("{base}/"));
    assert_eq!(browser.current_url(), format!("{base}/"));

    // The inline script and handler were refused: no mark, and Chromium
    // said why, both in the console and to the page's listener.
    browser.wait_until("the refusals in the console", Duration::from_secs(5), |b| b.csp_violations().len() >= 2);
    assert_eq!(browser.title(), "harness");
    assert_eq!(browser.execute("return window.__pwned === undefined;", &[]), json!(true));
    let violations = browser.csp_violations();
    assert!(
        violations.iter().any(|l| l.contains("inline script") && l.contains("blocked")),
        "no refusal of the inline script: {violations:#?}"
    );
    assert!(
        violations.iter().any(|l| l.contains("inline event handler") && l.contains("blocked")),
        "no refusal of the inline handler: {violations:#?}"
    );
    browser.wait_until("the page's securitypolicyviolation events", Duration::from_secs(5), |b| {
        b.execute("return window.__violations.length;", &[]) == json!(2)
    });
    let seen = browser.execute("return window.__violations;", &[]);
    assert!(seen.to_string().contains("script-src"), "{seen}");

    // A click runs the page's own script.
    assert!(browser.try_find("#nothing").is_none());
    assert_eq!(browser.find_all("input").len(), 2);
    browser.find("#go").click();
    browser.wait_until("the click's answer", Duration::from_secs(5), |b| b.find("#out").text() == "clicked");
    let console = browser.console_log();
    for (level, line) in
        [("INFO", "\"harness: clicked\""), ("WARNING", "\"harness: warned\""), ("SEVERE", "\"harness: failed\"")]
    {
        assert!(
            console.iter().any(|l| l.starts_with(level) && l.contains("/app.js") && l.ends_with(line)),
            "no {level} {line} in the console: {console:#?}"
        );
    }

    // Typing, attributes and properties.
    let name = browser.find("#name");
    assert_eq!(name.attr("value").as_deref(), Some("first"));
    assert_eq!(name.attr("placeholder"), None);
    name.clear();
    name.send_keys("second");
    assert_eq!(name.prop("value"), json!("second"));
    assert_eq!(name.attr("value").as_deref(), Some("first"));

    // A file chosen by its path.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bracket.stl");
    std::fs::write(&file, "solid bracket\nendsolid bracket\n").expect("write");
    let input = browser.find("input[type=file]");
    input.send_keys(file.to_str().expect("a UTF-8 path"));
    let chosen = browser.execute("return [arguments[0].files.length, arguments[0].files[0].name];", &[input.json()]);
    assert_eq!(chosen, json!([1, "bracket.stl"]));
    let size = browser.execute("return document.getElementById('file').files[0].size;", &[]);
    assert_eq!(size, json!(31));

    // Cookies of the page's site.
    browser.add_cookie("harness", "1");
    assert!(browser.cookies().iter().any(|c| c["name"] == "harness" && c["value"] == "1"));
    browser.delete_all_cookies();
    assert!(browser.cookies().is_empty());

    // A screenshot.
    let shot = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots/harness.png");
    let _ = std::fs::remove_file(&shot);
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {:?}", &png[..png.len().min(16)]);
    // Width and height of the IHDR chunk: the window's viewport.
    let width = u32::from_be_bytes(png[16..20].try_into().expect("width"));
    assert!(width > 0 && png.len() > 1000, "a screenshot of {} bytes, {width} wide", png.len());

    let viewport = browser.execute("return [innerWidth, innerHeight];", &[]);
    let height = u32::from_be_bytes(png[20..24].try_into().expect("height"));
    assert_eq!(viewport, json!([width, height]), "the screenshot is the viewport");
    eprintln!("console:\n{}", browser.console_log().join("\n"));

    // Nothing untrusted ever reached the server either.
    assert_eq!(pwned.load(Ordering::SeqCst), 0);
    assert!(browser.source().contains("id=\"untrusted\""));
}

/// A selector that never matches fails after the browser's timeout with
/// the selector and the page; the browser still stops (Drop on unwind).
#[test]
#[should_panic(expected = "no element matches \"#never\"")]
fn find_gives_up_with_the_page() {
    let (base, _) = serve();
    let Some(mut browser) = Browser::start() else {
        panic!("no element matches \"#never\" (skipped: no chromium and chromedriver)");
    };
    browser.timeout = Duration::from_millis(300);
    browser.goto(&format!("{base}/"));
    browser.find("#never");
}
