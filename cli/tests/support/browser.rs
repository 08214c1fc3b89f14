//! A real browser for tests: Debian's headless Chromium driven through
//! Debian's chromedriver (packages `chromium` and `chromium-driver`) with a
//! small, synchronous W3C WebDriver client.
//!
//! Nothing here downloads a browser. The client speaks plain HTTP/1.1 to
//! chromedriver on a loopback port with the workspace's own `hyper` client
//! (one connection per command, driven by a current-thread tokio runtime
//! the [`Browser`] owns), so it adds no crate to the build.
//!
//! ```ignore
//! let Some(browser) = Browser::start() else { return }; // skipped: no chromium
//! browser.goto(&format!("http://{addr}/"));
//! browser.find("button#go").click();
//! browser.wait_until("the answer", Browser::TIMEOUT, |b| b.find("#out").text() == "done");
//! assert!(browser.csp_violations().is_empty());
//! ```
//!
//! # Finding the binaries
//!
//! `/usr/bin/chromedriver` and `/usr/bin/chromium`, or the paths in
//! `COMMUNS_CHROMEDRIVER` and `COMMUNS_CHROMIUM`. When either is missing,
//! [`Browser::start`] returns `None` and the test decides (usually: says it
//! is skipped and passes) — unless `COMMUNS_REQUIRE_BROWSER=1` (set by
//! `.ci/run`), where it panics. Binaries that are there but fail to start
//! always panic.
//!
//! # Chromium's ways
//!
//! - Console log: chromedriver (156) keeps the Selenium log endpoint,
//!   `POST /session/{id}/se/log` with `{"type": "browser"}`, when the
//!   session asked for `goog:loggingPrefs` `{"browser": "ALL"}` (the old
//!   `POST /session/{id}/log` answers the same; `GET .../se/log` is an
//!   unknown command, `GET .../se/log/types` lists `browser` and `driver`;
//!   WebDriver BiDi's `log.entryAdded` would need a WebSocket). Each call
//!   returns (and forgets) the entries since the previous call, so
//!   [`Browser::console_log`] keeps every line it has been given: it is the
//!   whole log of the session. A line reads `INFO <url> <line>:<col>
//!   "message"` for `console.log("message")` (strings quoted; `WARNING`,
//!   `SEVERE` for warn and error). Chromium adds its own lines: `SEVERE
//!   <url> - Failed to load resource: ... 404` for any failed load,
//!   including the `/favicon.ico` it asks every site for, so a test that
//!   wants "no errors" should serve a favicon or filter. CSP refusals are
//!   logged by Chromium itself at level SEVERE; Chromium 156 words them
//!   `<url> <line> Executing inline script violates the following Content
//!   Security Policy directive 'script-src 'self''. ... The action has been
//!   blocked.` (older versions: `Refused to execute inline script because
//!   it violates ...`), so match on "Content Security Policy" and the kind
//!   of thing refused ("inline script", "inline event handler"), not on a
//!   whole sentence.
//! - File uploads: [`Element::send_keys`] on an `<input type=file>` with an
//!   absolute path selects that file (several: paths joined by `\n` on a
//!   `multiple` input). chromedriver reads the file itself, so the path must
//!   exist on this machine; the page sees `input.files[0].name` as the file
//!   name and a `change` event fires.
//! - Screenshots: `GET /session/{id}/screenshot` is a base64 PNG of the
//!   viewport, decoded by [`Browser::screenshot`]. `--window-size=1280,900`
//!   sizes the (invisible) window, so the viewport and the PNG are
//!   1280x757 on Chromium 156: read `innerWidth`/`innerHeight` rather than
//!   assume 900.
//! - Debian's `/usr/bin/chromium` is a shell wrapper that adds the flags of
//!   `/etc/chromium.d/` (e.g. `--disable-dev-shm-usage` when /dev/shm is
//!   small) before running `/usr/lib/chromium/chromium`.
//!
//! # Proving that untrusted content runs nothing
//!
//! Scripts that ran before the test looks cannot be caught after the fact
//! by a listener installed from the test. The technique instead: the
//! untrusted content, if it ever ran, leaves a marker (`window.__pwned = 1`,
//! `document.title = "pwned"`, or a request to a URL the test's server
//! records); the test asserts the marker is absent *and* that Chromium
//! logged the refusal, via [`Browser::csp_violations`] (console lines that
//! mention "Content Security Policy"), so the test cannot pass because the
//! content was simply never on the page.

// Signals to the chromedriver process group (kill(2)).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The key under which the W3C protocol names a web element.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The arguments Chromium is started with (plus `--user-data-dir`).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--window-size=1280,900",
];

/// A headless Chromium and the chromedriver that drives it, with one
/// WebDriver session. Both are stopped when it is dropped.
pub(crate) struct Browser {
    runtime: tokio::runtime::Runtime,
    /// chromedriver's `127.0.0.1:port`.
    addr: String,
    session: String,
    driver: Child,
    /// The browser's profile and chromedriver's log.
    dir: tempfile::TempDir,
    /// Every console line read so far (chromedriver hands each out once).
    log: RefCell<Vec<String>>,
    /// How long [`Browser::find`] waits for an element.
    pub timeout: Duration,
}

/// An element of the current page, as WebDriver names it. It goes stale
/// when the page changes.
pub(crate) struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// A failed WebDriver command: the W3C error code and chromedriver's message.
#[derive(Debug)]
pub(crate) struct WebDriverError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

fn binary(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// A port nobody listened on a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// The default of [`Browser::timeout`].
    pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

    /// Starts chromedriver and a headless Chromium with a fresh profile.
    /// `None` when either binary is missing (see the module's notes), or a
    /// panic when `COMMUNS_REQUIRE_BROWSER=1`.
    #[track_caller]
    pub(crate) fn start() -> Option<Browser> {
        let driver = binary("COMMUNS_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = binary("COMMUNS_CHROMIUM", "/usr/bin/chromium");
        let missing: Vec<String> =
            [&driver, &chromium].iter().filter(|p| !p.is_file()).map(|p| p.display().to_string()).collect();
        if !missing.is_empty() {
            let why = format!(
                "no browser: {} missing (apt-get install chromium chromium-driver, \
                 or set COMMUNS_CHROMEDRIVER and COMMUNS_CHROMIUM)",
                missing.join(" and ")
            );
            assert!(std::env::var("COMMUNS_REQUIRE_BROWSER").as_deref() != Ok("1"), "{why}; COMMUNS_REQUIRE_BROWSER=1");
            eprintln!("{why}");
            return None;
        }
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the browser");
        let dir = tempfile::tempdir().expect("a folder for the browser");
        // Another process may take the port between free_port and
        // chromedriver's bind: try a few.
        let mut tries = 0;
        let (driver, addr) = loop {
            tries += 1;
            let port = free_port();
            let mut child = Self::spawn_driver(&driver, port, dir.path());
            let addr = format!("127.0.0.1:{port}");
            match wait_ready(&runtime, &addr, &mut child) {
                Ok(()) => break (child, addr),
                Err(e) => {
                    kill_group(&mut child);
                    assert!(tries < 3, "chromedriver did not start: {e}\n{}", driver_log(dir.path()));
                }
            }
        };
        let profile = dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let mut browser = Browser {
            runtime,
            addr,
            session: String::new(),
            driver,
            dir,
            log: RefCell::new(Vec::new()),
            timeout: Self::TIMEOUT,
        };
        let created = browser
            .request("POST", "/session", Some(&capabilities))
            .unwrap_or_else(|e| panic!("chromium did not start: {e}\n{}", driver_log(browser.dir.path())));
        browser.session = created["sessionId"].as_str().expect("a session id").to_owned();
        Some(browser)
    }

    fn spawn_driver(driver: &Path, port: u16, dir: &Path) -> Child {
        use std::os::unix::process::CommandExt as _;
        Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop can stop the browser
            // with it should chromedriver not close it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", driver.display()))
    }

    /// One WebDriver command: `path` is relative to the session (`""` is
    /// the session itself). Its `value`, or the W3C error.
    pub(crate) fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, WebDriverError> {
        self.request(method, &format!("/session/{}{path}", self.session), body)
    }

    /// [`Browser::command`] that panics with the command on an error.
    #[track_caller]
    fn must(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.command(method, path, body).unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, WebDriverError> {
        // chromedriver wants a JSON object with every POST, even `{}`.
        let body = match body {
            Some(body) => Some(serde_json::to_vec(body).expect("JSON")),
            None if method == "POST" => Some(b"{}".to_vec()),
            None => None,
        };
        let answer = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(90), send(&self.addr, method, path, body)).await
        });
        let (status, bytes) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(WebDriverError { error: "transport".into(), message: e }),
            Err(_) => return Err(WebDriverError { error: "timeout".into(), message: "no answer in 90 s".into() }),
        };
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| WebDriverError {
            error: "bad answer".into(),
            message: format!("HTTP {status}: {e}: {}", String::from_utf8_lossy(&bytes)),
        })?;
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        if status >= 400 || value.get("error").is_some_and(Value::is_string) {
            return Err(WebDriverError {
                error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        // New Session answers its id beside the capabilities, in `value`.
        Ok(value)
    }

    /// Opens `url` and waits for its `load` event.
    #[track_caller]
    pub(crate) fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(&json!({ "url": url })));
    }

    #[track_caller]
    pub(crate) fn current_url(&self) -> String {
        self.must("GET", "/url", None).as_str().expect("a URL").to_owned()
    }

    #[track_caller]
    pub(crate) fn title(&self) -> String {
        self.must("GET", "/title", None).as_str().expect("a title").to_owned()
    }

    /// The page's current DOM, serialised.
    #[track_caller]
    pub(crate) fn source(&self) -> String {
        self.must("GET", "/source", None).as_str().expect("the source").to_owned()
    }

    /// The first element matching `css`, waiting up to [`Browser::timeout`]
    /// for it to appear; panics with the selector and the page otherwise.
    #[track_caller]
    pub(crate) fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(element) = self.try_find(css) {
                return element;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no element matches {css:?} after {:?} on {}\n--- page\n{}",
                    self.timeout,
                    self.current_url(),
                    self.excerpt()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first element matching `css` now, without waiting.
    #[track_caller]
    pub(crate) fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let by = json!({ "using": "css selector", "value": css });
        match self.command("POST", "/element", Some(&by)) {
            Ok(found) => Some(self.element(&found)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css:?}: {e}"),
        }
    }

    /// Every element matching `css` now, without waiting (possibly none).
    #[track_caller]
    pub(crate) fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let by = json!({ "using": "css selector", "value": css });
        let found = self.must("POST", "/elements", Some(&by));
        found.as_array().expect("a list").iter().map(|e| self.element(e)).collect()
    }

    fn element(&self, found: &Value) -> Element<'_> {
        let id = found[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element: {found}"));
        Element { browser: self, id: id.to_owned() }
    }

    /// Runs `script` as the body of a function (so `return x;` answers x)
    /// with `args` as `arguments`, and answers what it returns. Pass an
    /// element with [`Element::json`]; an element returned comes back as
    /// `{"element-6066-…": id}`. A promise returned is awaited.
    #[track_caller]
    pub(crate) fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command("POST", "/execute/sync", Some(&body)).unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// Polls `done` every 50 ms until it holds; panics after `timeout`
    /// with `what` and the page.
    #[track_caller]
    pub(crate) fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {what} on {}\n--- page\n{}\n--- console\n{}",
                    self.current_url(),
                    self.excerpt(),
                    self.console_log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a PNG of the viewport to `path`, creating its folders.
    #[track_caller]
    pub(crate) fn screenshot(&self, path: &Path) {
        let encoded = self.must("GET", "/screenshot", None);
        let png = base64_decode(encoded.as_str().expect("base64"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the screenshot's folder");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Every line the page wrote to the console (and Chromium's own
    /// messages about it: CSP refusals, failed loads) since the session
    /// began, oldest first, as `LEVEL message`.
    #[track_caller]
    pub(crate) fn console_log(&self) -> Vec<String> {
        let entries = self.must("POST", "/se/log", Some(&json!({ "type": "browser" })));
        let mut log = self.log.borrow_mut();
        for entry in entries.as_array().into_iter().flatten() {
            log.push(format!(
                "{} {}",
                entry["level"].as_str().unwrap_or("?"),
                entry["message"].as_str().unwrap_or_default()
            ));
        }
        log.clone()
    }

    /// The console lines in which Chromium reports refusing something
    /// under the page's Content Security Policy.
    #[track_caller]
    pub(crate) fn csp_violations(&self) -> Vec<String> {
        self.console_log().into_iter().filter(|l| l.contains("Content Security Policy")).collect()
    }

    /// Sets cookie `name=value` for the current page's site (path `/`).
    #[track_caller]
    pub(crate) fn add_cookie(&self, name: &str, value: &str) {
        let cookie = json!({ "cookie": { "name": name, "value": value, "path": "/" } });
        self.must("POST", "/cookie", Some(&cookie));
    }

    /// The current site's cookies, as WebDriver describes them.
    #[track_caller]
    pub(crate) fn cookies(&self) -> Vec<Value> {
        self.must("GET", "/cookie", None).as_array().cloned().unwrap_or_default()
    }

    #[track_caller]
    pub(crate) fn delete_all_cookies(&self) {
        self.must("DELETE", "/cookie", None);
    }

    /// The start of the page's source, for error messages.
    fn excerpt(&self) -> String {
        match self.command("GET", "/source", None) {
            Ok(source) => {
                let source = source.as_str().unwrap_or_default();
                match source.char_indices().nth(4000) {
                    Some((end, _)) => format!("{}…", &source[..end]),
                    None => source.to_owned(),
                }
            }
            Err(e) => format!("(no source: {e})"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session closes Chromium; then chromedriver goes, with
        // anything left of its process group.
        if !self.session.is_empty() {
            let _ = self.command("DELETE", "", None);
        }
        kill_group(&mut self.driver);
    }
}

impl Element<'_> {
    /// The element as an argument of [`Browser::execute`].
    pub(crate) fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, what: &str) -> String {
        format!("/element/{}{what}", self.id)
    }

    /// Scrolls it into view and clicks its centre (an error if something
    /// else is on top, as for a user).
    #[track_caller]
    pub(crate) fn click(&self) {
        self.browser.must("POST", &self.path("/click"), None);
    }

    /// Its rendered text (hidden text excluded).
    #[track_caller]
    pub(crate) fn text(&self) -> String {
        self.browser.must("GET", &self.path("/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// Its HTML attribute `name`, if set.
    #[track_caller]
    pub(crate) fn attr(&self, name: &str) -> Option<String> {
        self.browser.must("GET", &self.path(&format!("/attribute/{name}")), None).as_str().map(str::to_owned)
    }

    /// Its DOM property `name` (`value`, `checked`, …); null if unset.
    #[track_caller]
    pub(crate) fn prop(&self, name: &str) -> Value {
        self.browser.must("GET", &self.path(&format!("/property/{name}")), None)
    }

    /// Types `text` into it. On an `<input type=file>`, `text` is an
    /// absolute path on this machine (several: joined by `\n`), which
    /// selects that file as a user would.
    #[track_caller]
    pub(crate) fn send_keys(&self, text: &str) {
        self.browser.must("POST", &self.path("/value"), Some(&json!({ "text": text })));
    }

    /// Empties an input or textarea.
    #[track_caller]
    pub(crate) fn clear(&self) {
        self.browser.must("POST", &self.path("/clear"), None);
    }

    /// The first element under this one matching `css`, now.
    #[track_caller]
    pub(crate) fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let by = json!({ "using": "css selector", "value": css });
        match self.browser.command("POST", &self.path("/element"), Some(&by)) {
            Ok(found) => Some(self.browser.element(&found)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css:?}: {e}"),
        }
    }
}

/// One HTTP/1.1 exchange with chromedriver on a fresh connection.
async fn send(addr: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<(u16, Bytes), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connecting to {addr}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(method).uri(path).header(hyper::header::HOST, addr);
    if body.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json; charset=utf-8");
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default()))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| format!("{method} {path}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.map_err(|e| format!("{method} {path}: {e}"))?.to_bytes();
    Ok((status, bytes))
}

/// Waits (up to 20 s) for chromedriver to say it is ready on `/status`.
fn wait_ready(runtime: &tokio::runtime::Runtime, addr: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("chromedriver exited ({status})"));
        }
        if let Ok(Ok((200, bytes))) = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), send(addr, "GET", "/status", None)).await })
            && serde_json::from_slice::<Value>(&bytes).is_ok_and(|s| s["value"]["ready"] == true)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("no ready answer on {addr}/status in 20 s"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Kills `child`'s process group (it leads one) and reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn driver_log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
    let start = log.len().saturating_sub(6000);
    let start = (start..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
    format!("--- chromedriver.log (end)\n{}", &log[start..])
}

/// Standard base64 (with or without padding), as screenshots come.
pub(crate) fn base64_decode(text: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    }
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, c)| n | value(*c) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
