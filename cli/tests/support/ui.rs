//! Signing in to a running node's web UI, as a test.

use super::Node;

/// A one-time login URL of a running node (`communs ui --print --json`).
pub(crate) fn login_url(node: &Node) -> String {
    let link = node.json(&["ui", "--print"]);
    link["url"].as_str().expect("a login url").to_owned()
}

pub(crate) fn addr_of(url: &str) -> String {
    url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("an http URL").to_owned()
}

/// The CSRF token in a page's first write form.
pub(crate) fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"').expect("the value's end");
    html[start..start + end].to_owned()
}
