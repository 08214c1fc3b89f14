//! Any text as paths, and the valid ones as a tree: no panic; a path read
//! from a tree (`new`) is what a local folder's name normalises to
//! (`normalize`), a normalised path is valid as read, an NFC path fails
//! both ways for the same reason, and a tree built from valid entries
//! decodes back to itself.
//!
//! Input: UTF-8 text, checked whole and line by line; each valid line is
//! one entry of the tree, its size and flag drawn from its bytes.
#![no_main]
use communs_protocol::hash::BlobHash;
use communs_protocol::{PathError, Tree, TreeEntry, ValidatedPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = check(text);
    let mut entries = Vec::new();
    for line in text.split('\n') {
        if let Ok(path) = check(line) {
            let size = line.bytes().fold(0u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
            entries.push(TreeEntry {
                path,
                blob: BlobHash::of(line.as_bytes()),
                size: size % 1_000_000,
                executable: size % 2 == 1,
            });
        }
    }
    if let Ok(tree) = Tree::new(entries.clone()) {
        assert_eq!(Tree::decode(&tree.encode()).as_ref(), Ok(&tree));
        assert_eq!(tree.entries().len(), entries.len());
    }
});

fn check(text: &str) -> Result<ValidatedPath, PathError> {
    let strict = ValidatedPath::new(text);
    let normalized = ValidatedPath::normalize(text);
    if let Ok(path) = &strict {
        assert_eq!(path.as_str(), text);
        assert_eq!(normalized.as_ref(), Ok(path), "an NFC path normalises to itself");
    }
    if let Ok(path) = &normalized {
        assert_eq!(ValidatedPath::new(path.as_str()).as_ref(), Ok(path), "a normalised path is valid as read");
        assert!(path.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
    }
    if let Err(e) = &strict
        && *e != PathError::NotNfc
    {
        assert_eq!(normalized.as_ref(), Err(e), "an NFC path is refused the same way by both");
    }
    strict
}
