//! Multi-node scenarios live in `tests/tests/`: several communs nodes, each
//! with its own data directory, exchanging designs. Without a network yet
//! they exchange bundles, as two fablabs with a USB stick would.
