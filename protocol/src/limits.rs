//! Every hard limit of the protocol, in one place.
//!
//! Limits exist so that a hostile or broken peer cannot make a node allocate,
//! loop or store without bound: every decoder checks them *while decoding*,
//! before allocating. Each one is documented in `spec/limits.md`; changing a
//! value here is a protocol change and goes into the spec first.

/// Largest encoded event, signature included.
///
/// An event carries a manifest inline (see [`MAX_MANIFEST_BYTES`]) plus a few
/// dozen ids; 64 KiB leaves room for both and keeps a gossip message small
/// enough to validate before forwarding.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Largest encoded manifest inside a `Revision`.
///
/// A manifest is metadata (names, licenses, paths into the tree), never file
/// contents; the largest real OKH manifests seen are a few KiB.
pub const MAX_MANIFEST_BYTES: usize = 32 * 1024;

/// Largest encoded tree. Trees are blobs, fetched by verified streaming, so
/// they may exceed a gossip message, but a node decodes them in memory.
pub const MAX_TREE_BYTES: usize = 16 * 1024 * 1024;

/// Most entries (files) in one tree: a large KiCad or CAD project holds a few
/// thousand files; 100,000 bounds the cost of validating a tree.
pub const MAX_TREE_ENTRIES: usize = 100_000;

/// Largest single file in a design (64 GiB): designs carry scans and videos,
/// but a size must be bounded so that totals cannot overflow.
pub const MAX_BLOB_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Largest blob a node's blob store keeps in its database rather than in a
/// file of its own: a design's many small parts then cost no file creation,
/// which on a busy file system took longer than writing their bytes.
pub const MAX_INLINE_BYTES: u64 = 64 * 1024;

/// Most parents of one event. An author merges the heads they know; more than
/// 64 concurrent heads in one design log means something is wrong.
pub const MAX_PARENTS: usize = 64;

/// Most revisions named in a `Revision`'s `base`, for the same reason.
pub const MAX_BASE: usize = 64;

/// Most maintainers of one design.
pub const MAX_MAINTAINERS: usize = 64;

/// Longest path in a tree, in bytes of UTF-8. Chosen so that a checkout under
/// a short folder stays below the 260-character path limit of Windows tools.
pub const MAX_PATH_BYTES: usize = 200;

/// Longest single path segment, in bytes of UTF-8. File systems allow 255,
/// but a name must leave room for its folders within [`MAX_PATH_BYTES`].
pub const MAX_SEGMENT_BYTES: usize = 128;

/// Deepest folder nesting in a path.
pub const MAX_PATH_DEPTH: usize = 32;

/// Longest design name (`Genesis.name`, manifest `name`).
pub const MAX_NAME_BYTES: usize = 200;

/// Longest SPDX license expression.
pub const MAX_LICENSE_BYTES: usize = 200;

/// Longest revision message.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// Longest comment text, and make report notes (Markdown).
pub const MAX_COMMENT_BYTES: usize = 8 * 1024;

/// Most attachments of one comment, photos of one make report.
pub const MAX_ATTACHMENTS: usize = 8;

/// Largest attachment or photo a comment or make report may declare. The
/// size is in the event, so an oversized one is refused before anything
/// is fetched.
pub const MAX_ATTACHMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Most settings (key/value pairs) of a make report.
pub const MAX_MAKE_SETTINGS: usize = 32;

/// Longest key of a make report setting ("layer height", "infill").
pub const MAX_SETTING_KEY_BYTES: usize = 64;

/// Longest profile bio.
pub const MAX_BIO_BYTES: usize = 1024;

/// Most links of a profile.
pub const MAX_PROFILE_LINKS: usize = 8;

/// Largest avatar image a profile may declare: every node holding one of
/// the author's designs keeps it.
pub const MAX_AVATAR_BYTES: u64 = 1024 * 1024;

/// Deepest nesting of CBOR arrays and maps accepted by the decoder. Our
/// deepest structure (event > body > manifest > parts > part > list) needs 6.
pub const MAX_CBOR_DEPTH: usize = 16;

/// Bytes of the random nonce in a `Genesis`, so that two people publishing
/// the same name at the same millisecond still get distinct designs.
pub const GENESIS_NONCE_BYTES: usize = 16;

// Manifest limits (spec/manifest.md). Together with `MAX_MANIFEST_BYTES`,
// `MAX_NAME_BYTES` and `MAX_LICENSE_BYTES` above, they bound every field of
// a manifest, so that a decoder refuses an oversized item before it
// allocates, and an error names the field that is too large rather than
// only the whole manifest.

/// Longest one-line text in a manifest (a version, a licensor, an
/// organization, a part's material or TsDC id).
pub const MAX_MANIFEST_LINE_BYTES: usize = 200;

/// Longest `function`, the description of what the design does: a few
/// paragraphs. The README is the place for the rest.
pub const MAX_FUNCTION_BYTES: usize = 8 * 1024;

/// Most keywords in a manifest: keywords are a handful of search terms.
pub const MAX_KEYWORDS: usize = 32;

/// Longest keyword: a search term, not a sentence.
pub const MAX_KEYWORD_BYTES: usize = 64;

/// Longest http(s) URL in a manifest. File references into the design are
/// paths, bounded by [`MAX_PATH_BYTES`].
pub const MAX_URL_BYTES: usize = 1024;

/// Longest language tag: RFC 5646 (BCP 47), section 4.4.1, asks
/// implementations to store at least 35 characters, which covers every
/// tag in practical use.
pub const MAX_LANGUAGE_TAG_BYTES: usize = 35;

/// Most items in any other list of a manifest or of a part (images,
/// licensors, file references, languages, TsDC ids).
pub const MAX_MANIFEST_LIST_ITEMS: usize = 64;

/// Most parts in one manifest. A design with more parts than this is better
/// split into modules, each a design of its own.
pub const MAX_PARTS: usize = 256;

/// Largest mass of a part, in milligrams (1,000 tonnes). Bounded so that
/// the value written back to `okh.toml` in grams survives the round trip
/// through a 64-bit float exactly.
pub const MAX_MASS_MG: u64 = 1_000_000_000_000;

/// Largest outer dimension of a part, in micrometres (1 km), for the same
/// reason as [`MAX_MASS_MG`].
pub const MAX_DIMENSION_UM: u64 = 1_000_000_000;

/// Largest `okh.toml` or `okh.yml` read. Real manifests are a few KiB; the
/// bound keeps a stray multi-megabyte file from being parsed at all.
pub const MAX_OKH_FILE_BYTES: usize = 256 * 1024;

/// Most events a resolver holds while their parents have not arrived. A
/// peer sending events that never connect fills this and no more.
pub const MAX_PENDING_EVENTS: usize = 10_000;

/// Most contributions (revisions, proposals, comments, make reports) of
/// one author to one design that no maintainer's event has in its past:
/// the first ones in
/// causal order are kept, the rest refused or evicted until a maintainer
/// builds on them (`spec/governance.md`, "Unclaimed contributions").
pub const MAX_UNCLAIMED_CONTRIBUTIONS_PER_AUTHOR: usize = 64;

/// Longest text of a network search query.
pub const MAX_SEARCH_TEXT_BYTES: usize = 256;

/// Longest filter (license, keyword, author) of a network search query.
pub const MAX_SEARCH_FILTER_BYTES: usize = 200;

/// Most hits one network search asks for and one answer holds.
pub const MAX_SEARCH_RESULTS: usize = 50;

/// Largest network search request or answer on the wire: 50 hits with the
/// longest names and licenses fit.
pub const MAX_SEARCH_MESSAGE_BYTES: usize = 64 * 1024;

/// Searches a peer may ask at once before it must wait, and the wait for
/// each one more, in milliseconds: a person typing gets every answer, a
/// flood gets `busy` and then a penalty.
pub const SEARCH_BURST: u64 = 10;
pub const SEARCH_REFILL_MILLIS: u64 = 1000;

/// Largest message of a catch-up reconciliation (either direction). Large
/// differences take more round trips rather than larger messages.
pub const MAX_RECONCILE_MESSAGE_BYTES: usize = 256 * 1024;

/// Largest catch-up request or response on the wire. A response of events
/// stops short of it and the requester asks again for the rest.
pub const MAX_CATCHUP_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Most event ids one catch-up `Fetch` may ask for.
pub const MAX_FETCH_IDS: usize = 1024;

/// Most authors one catch-up `Profiles` request may name.
pub const MAX_PROFILE_AUTHORS: usize = 1024;

/// Most designs named in one catch-up scope: a laptop follows a few dozen,
/// a tiers-lieu seeding everything asks for all of them instead.
pub const MAX_SCOPE_DESIGNS: usize = 10_000;

/// Catch-up sessions one node keeps open for one peer; older ones are
/// dropped and that peer starts again.
pub const MAX_SESSIONS_PER_PEER: usize = 4;

/// Catch-up requests of one peer a node answers at once; beyond, it
/// answers `Busy` at once. Honest nodes send one request per session.
pub const MAX_REQUESTS_PER_PEER: usize = 8;

/// Round trips one reconciliation may take before a node gives it up: a
/// difference of a million events converges in far fewer, so more means
/// a peer that never lets the session end.
pub const MAX_CATCHUP_ROUNDS: usize = 64;

/// Seconds an answering node keeps a reconciliation session that is not
/// continued: an honest initiator sends its next message as soon as the
/// reply arrives, so a minute is ample, and a session holds the item set
/// of its scope in memory.
pub const CATCHUP_SESSION_TTL_SECS: u64 = 60;

/// Seconds a catch-up request may wait for its response before it fails:
/// a `Fetch` of [`MAX_FETCH_IDS`] events read from a busy disk on a slow
/// link takes seconds, not a minute. No longer than
/// [`CATCHUP_SESSION_TTL_SECS`], so that a session outlives the wait for
/// any one of its replies.
pub const CATCHUP_REQUEST_TIMEOUT_SECS: u64 = 60;

/// Times an initiator starts a whole catch-up again, with a new session,
/// after the peer answered `unknown session` (it dropped the session for
/// newer ones, or it expired): once recovers from a peer's restart or a
/// burst of sessions; a second refusal means trying again later.
pub const MAX_CATCHUP_RESTARTS: usize = 1;

/// `Fetch` requests of one catch-up in flight at once: the next batch is
/// on the wire (and read from the peer's store) while one is verified.
/// Kept well under [`MAX_REQUESTS_PER_PEER`], so that a node's own
/// catch-up never makes its peer answer `busy`.
pub const MAX_FETCHES_IN_FLIGHT: usize = 2;

/// Events a catch-up brought that the node then gossips to its mesh
/// (network.md, "Forwarding what a catch-up brought"). What a node learns
/// by catch-up (after a partition, back from being offline) reaches its
/// neighbours within a round trip instead of one anti-entropy round per
/// hop; a bulk catch-up forwards only its first events, and anti-entropy
/// carries the rest.
pub const MAX_FORWARDED_PER_CATCHUP: usize = 64;

/// Designs a node announces in the DHT, and provider records it keeps for
/// others, together (libp2p-kad's memory store holds 1,024 by default,
/// fewer than a tiers-lieu seeds).
pub const MAX_PROVIDER_KEYS: usize = 100_000;

/// Number of gossip shard topics. Designs are spread over a fixed set of
/// topics because per-design topics do not scale to a node seeding ten
/// thousand designs; 64 keeps a laptop that follows a handful of designs
/// from receiving most of the traffic.
pub const GOSSIP_SHARDS: u16 = 64;

/// Largest gossip message: one signed event (64 KiB) plus 1 KiB for
/// gossipsub's framing.
pub const MAX_GOSSIP_MESSAGE_BYTES: usize = 65 * 1024;

/// Connections a node keeps at most, and per peer: gossipsub keeps
/// connections open and Kademlia dials whoever it hears of, which together
/// would connect every node to every other.
pub const MAX_CONNECTIONS: u32 = 128;
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;

/// Peers whose last connection, catch-up and error a node remembers for
/// `node status`; past it, the one heard of longest ago is forgotten
/// (a node on a busy LAN or the DHT meets thousands).
pub const MAX_PEER_HISTORY: usize = 256;

/// Longest error text kept per peer for `node status`, in characters.
pub const MAX_PEER_ERROR_CHARS: usize = 300;

/// Largest encoded announcement (genesis, revision and approval of a
/// design, spec/catalog.md). One fits a gossip message; a design whose
/// revision does not fit is announced with its genesis alone.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 64 * 1024;

/// Bytes a node with a storage limit leaves free under it for what grows
/// without a fetch reserving room first: the event log, the search
/// index, the blob store's database (spec/storage.md, "The disk limit").
pub const STORAGE_HEADROOM_BYTES: u64 = 8 * 1024 * 1024;

/// Longest `policy.cbor` a restore reads (spec/storage.md, "Backups"):
/// the policy log is one entry per decision a person made, but a backup
/// is read before it is trusted.
pub const MAX_BACKUP_POLICY_BYTES: u64 = 64 * 1024 * 1024;

/// Longest `backup.json` a restore reads.
pub const MAX_BACKUP_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Most designs a node's catalog holds besides those it keeps; beyond,
/// the entry with fewest holders, then heard of longest ago, is evicted.
pub const MAX_CATALOG_ENTRIES: usize = 100_000;

/// Most holders a catalog entry records, and a catalog catch-up response
/// lists per announcement; beyond, the one heard of longest ago goes.
pub const MAX_CATALOG_HOLDERS: usize = 8;
