//! Markdown from strangers (READMEs, comments) into HTML that does nothing
//! but show: rendered by pulldown-cmark, then cleaned by ammonia's
//! allow-list (no script, no event handler, no style, no frame, no form),
//! links only to `http`, `https` and `mailto`, pictures only from this
//! node. A README's relative links and pictures point at the revision's
//! own files; a path that climbs out of the design is dropped.

use std::borrow::Cow;

use pulldown_cmark::{Options, Parser};

/// Where a document's relative links lead: the files of one revision,
/// from the folder the document is in.
pub(crate) struct Base<'a> {
    /// `/d/design1…/files/` style prefix of the revision's files.
    pub files: &'a str,
    /// `?revision=event1…` to add to each file's link.
    pub query: &'a str,
    /// The document's folder in the tree (`""` at the root).
    pub folder: &'a str,
}

/// Markdown to safe HTML. Without a base (a comment), relative links and
/// pictures are dropped.
pub(crate) fn to_html(markdown: &str, base: Option<&Base<'_>>) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, Parser::new_ext(markdown, options));

    let mut cleaner = ammonia::Builder::default();
    cleaner
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        // A picture from elsewhere would tell that site who reads this
        // design, and when: only the node's own files are shown.
        .attribute_filter(|element, attribute, value| {
            if element == "img" && attribute == "src" && has_scheme(value) {
                return None;
            }
            Some(Cow::Borrowed(value))
        });
    match base {
        Some(base) => {
            let files =
                Rewrite { files: base.files.to_owned(), query: base.query.to_owned(), folder: base.folder.to_owned() };
            cleaner.url_relative(ammonia::UrlRelative::Custom(Box::new(files)));
        }
        None => {
            cleaner.url_relative(ammonia::UrlRelative::Deny);
        }
    }
    cleaner.clean(&raw).to_string()
}

/// ammonia's hook for relative URLs: [`rewrite`] with the document's base.
struct Rewrite {
    files: String,
    query: String,
    folder: String,
}

impl<'a> ammonia::UrlRelativeEvaluate<'a> for Rewrite {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        rewrite(url, &self.files, &self.query, &self.folder).map(Cow::Owned)
    }
}

fn has_scheme(url: &str) -> bool {
    let before = url.split(['/', '?', '#']).next().unwrap_or_default();
    before.contains(':') || url.starts_with("//")
}

/// A relative URL of a document in `folder`, as a link to the revision's
/// file it names; `None` when it leaves the design.
fn rewrite(url: &str, files: &str, query: &str, folder: &str) -> Option<String> {
    if url.starts_with('#') {
        return Some(url.to_owned());
    }
    if url.starts_with("//") {
        return None;
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let fragment = url.find('#').map(|i| &url[i..]).unwrap_or_default();
    let decoded = percent_decode(path)?;
    let mut parts: Vec<&str> =
        if decoded.starts_with('/') { Vec::new() } else { folder.split('/').filter(|s| !s.is_empty()).collect() };
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return None;
    }
    let encoded: Vec<String> = parts.iter().map(|p| crate::pages::layout::encode_segment(p)).collect();
    Some(format!("{files}{}{query}{fragment}", encoded.join("/")))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Base<'static> = Base { files: "/d/D/files/", query: "?revision=R", folder: "docs" };

    #[test]
    fn scripts_handlers_and_javascript_links_are_gone() {
        let hostile = "# Title\n\n<script>window.__pwned=1</script>\n\n<img src=x onerror=\"window.__pwned=1\">\n\n\
            [click](javascript:window.__pwned=1) <a href=\"javascript:alert(1)\">a</a>\n\n\
            <iframe src=\"https://example.invalid\"></iframe><style>body{display:none}</style>\n\n\
            <div onclick=\"x()\" style=\"position:fixed\">text</div><form action=/x><input></form>";
        let html = to_html(hostile, Some(&BASE));
        for bad in ["<script", "onerror", "javascript:", "<iframe", "<style", "onclick", "style=", "<form", "<input"] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains(">text</div>"), "{html}");
    }

    #[test]
    fn relative_pictures_and_links_point_at_the_revision_s_files() {
        let html = to_html("![a](img/front%20view.png) [bom](../BOM.csv#top) [s](#assembly)", Some(&BASE));
        assert!(html.contains(r#"src="/d/D/files/docs/img/front%20view.png?revision=R""#), "{html}");
        assert!(html.contains(r#"href="/d/D/files/BOM.csv?revision=R#top""#), "{html}");
        assert!(html.contains(r##"href="#assembly""##), "{html}");
    }

    #[test]
    fn paths_out_of_the_design_and_pictures_from_elsewhere_are_dropped() {
        let html = to_html(
            "![x](../../etc/passwd) ![y](https://tracker.invalid/p.png) ![z](//cdn.invalid/a.png) [ok](https://okh.invalid/)",
            Some(&BASE),
        );
        assert!(!html.contains("passwd") && !html.contains("tracker") && !html.contains("cdn.invalid"), "{html}");
        assert!(html.contains(r#"href="https://okh.invalid/""#) && html.contains("nofollow"), "{html}");
    }

    #[test]
    fn a_comment_has_no_relative_links() {
        let html = to_html("see [file](part.stl) and **this**", None);
        assert!(!html.contains("part.stl\""), "{html}");
        assert!(html.contains("<strong>this</strong>"), "{html}");
    }
}
