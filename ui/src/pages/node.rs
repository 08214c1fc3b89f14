//! `/node`: this node's peers, the designs it follows, how its syncs and
//! transfers go, and how much disk its store takes.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use communs_node::service::{NodeStatus, PolicyView};
use maud::html;

use super::{MaybeSession, layout, session};
use crate::Ui;

pub(crate) async fn page(State(ui): State<Ui>, s: MaybeSession) -> Response {
    let addr = ui.api.addr();
    let store = ui.store_dir.clone();
    let read = ui
        .api
        .run(move |service| async move {
            let status = service.node_status(addr).await?;
            let policy = service.policy()?;
            Ok::<(NodeStatus, PolicyView, u64), _>((status, policy, communs_node::disk::measure(&store)))
        })
        .await;
    let (status, policy, bytes) = match read {
        Ok(read) => read,
        Err(e) => return layout::failure(&e),
    };
    layout::page(
        "Node",
        session(&s),
        html! {
            h1 { "This node" }
            dl.node {
                dt { "Peer id" } dd { code { (status.peer_id) } }
                dt { "Author" } dd { a href={ "/a/" (status.author) } { code { (status.author) } } }
                dt { "Listening on" } dd { @for a in &status.listen { code { (a) } " " } }
                dt { "Store" } dd #storage { (layout::size(bytes)) " on disk" }
                dt { "Seeds" } dd { @if status.seed_all { "every design it hears of" } @else { "the designs it follows" } " (" (status.kept) " kept)" }
                dt { "Files to fetch" } dd #seeding {
                    (status.seeding.queued) " designs queued, " (status.seeding.fetching) " being fetched, "
                    (status.seeding.waiting_for_peers) " waiting for a peer that has them"
                }
                dt { "Events waiting for their parents" } dd { (status.pending_events) }
                dt { "Gossip" } dd { (status.gossip.delivered) " messages (" (status.gossip.received) " copies)" }
            }
            h2 { "Peers (" (status.peers.len()) ")" }
            @if status.peers.is_empty() {
                p.hint { "No peer connected" @if status.redialling > 0 { " (" (status.redialling) " known, being redialled)" } "." }
            }
            table.peers {
                thead { tr { th { "Peer" } th { "Addresses" } th { "Agent" } th.num { "Score" } } }
                tbody {
                    @for p in &status.peers {
                        tr {
                            td { code title=(p.peer_id) { (layout::short(&p.peer_id)) } }
                            td { @for a in &p.addresses { code { (a) } " " } }
                            td { (p.agent.clone().unwrap_or_default()) }
                            td.num { (p.score.map(|s| format!("{s:.1}")).unwrap_or_default()) }
                        }
                    }
                }
            }
            h2 { "Last catch-up with each peer" }
            table.sync {
                thead { tr { th { "Peer" } th { "When" } th.num { "Events needed" } th.num { "Added" } th.num { "Received" } } }
                tbody {
                    @for s in &status.sync {
                        tr {
                            td { code title=(s.peer_id) { (layout::short(&s.peer_id)) } }
                            td { (layout::time(s.at_ms)) }
                            td.num { (s.report.needed) } td.num { (s.report.added) } td.num { (layout::size(s.report.bytes_received as u64)) }
                        }
                    }
                }
            }
            h2 { "Followed designs (" (policy.followed.len()) ")" }
            ul.followed { @for d in &policy.followed { li { a href={ "/d/" (d) } { (layout::id(d)) } } } }
        },
    )
    .into_response()
}
