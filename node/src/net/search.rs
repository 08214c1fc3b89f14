//! Network search (spec/search.md): answering peers' queries from this
//! node's index within each peer's budget, and asking every connected
//! peer at once.
//!
//! The budgets are a map of pure state machines (`communs_protocol::search::Budget`)
//! owned by the driver and fed the time; the index work runs in a task of
//! its own, never on the driver.

use std::collections::HashMap;
use std::time::Duration;

use communs_protocol::search::{Budget, Hit, Query, Refusal, Response, Verdict};
use libp2p::PeerId;

use super::{Command, NetError, Network};
use crate::search::SearchQuery;

/// How long a network search waits for the peers' answers.
pub const SEARCH_WAIT: Duration = Duration::from_secs(5);

/// Each connected peer's search budget, and its refusals in a row.
#[derive(Default)]
pub(super) struct Budgets(HashMap<PeerId, (Budget, u64)>);

impl Budgets {
    /// What to do with a query from `peer` at `now_ms`.
    pub(super) fn take(&mut self, peer: PeerId, now_ms: u64) -> Verdict {
        let (budget, refused) = self.0.entry(peer).or_insert_with(|| (Budget::new(now_ms), 0));
        budget.take(now_ms, refused)
    }

    /// The peer is gone: a new connection starts with a full budget.
    pub(super) fn forget(&mut self, peer: &PeerId) {
        self.0.remove(peer);
    }
}

/// One peer's answer to a network search, or why there is none.
pub struct PeerAnswer {
    pub peer: PeerId,
    pub answer: Result<Vec<Hit>, String>,
}

impl Network {
    /// Answers a peer's query from this node's index.
    pub(super) async fn answer_search(&self, query: Query) -> Response {
        if query.is_empty() {
            return Response::Refused(Refusal::BadRequest);
        }
        let local = SearchQuery {
            text: query.text,
            license: query.license,
            keyword: query.keyword,
            author: query.author,
            made: query.made,
            held: None,
            limit: query.limit as usize,
        };
        match self.shared.node.search(&local).await {
            Ok(hits) => Response::Hits(
                hits.into_iter()
                    .map(|h| Hit {
                        design: h.design,
                        name: h.name,
                        license: h.licenses.join(" AND "),
                        score_milli: (f64::from(h.score.max(0.0)) * 1000.0) as u64,
                        makes: h.makes,
                        held: h.held,
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!("cannot answer a peer's search: {e}");
                Response::Refused(Refusal::BadRequest)
            }
        }
    }

    /// Asks every connected peer `query` at once, and waits up to
    /// [`SEARCH_WAIT`] for their answers.
    pub async fn search_peers(&self, query: Query) -> Result<Vec<PeerAnswer>, NetError> {
        let peers = self.connected_peers().await?;
        let asks = peers.into_iter().map(|peer| {
            let query = query.clone();
            async move {
                let asked = self.ask(|reply| Command::Search { peer, query, reply });
                let answer = match tokio::time::timeout(SEARCH_WAIT, asked).await {
                    Err(_) => Err("no answer in time".to_owned()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Ok(Ok(Err(e))) => Err(e),
                    Ok(Ok(Ok(Response::Hits(hits)))) => Ok(hits),
                    Ok(Ok(Ok(Response::Refused(refusal)))) => Err(refusal.to_string()),
                };
                PeerAnswer { peer, answer }
            }
        });
        Ok(futures::future::join_all(asks).await)
    }
}
