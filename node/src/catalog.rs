//! The catalog of designs this node has heard of (spec/catalog.md): what
//! peers announce, verified and offered to the store's catalog, and this
//! node's own announcements of the designs it keeps, made from its log.

use std::collections::BTreeSet;

use communs_protocol::catalog::Announcement;
use communs_protocol::wire::CatalogRecord;
use communs_protocol::{AuthorId, DesignId};

use crate::clock::now_ms;
use crate::store::catalog::{CatalogEntry, Offered};
use crate::{Node, NodeError};

impl Node {
    /// Verifies the records a peer sent in a catalog catch-up (on every
    /// core) and offers the valid ones to the catalog. Returns how many it
    /// took (new or replacing an entry) and the reason the first invalid
    /// one was refused.
    pub(crate) fn offer_catalog(&self, records: Vec<CatalogRecord>) -> Result<(usize, Option<String>), NodeError> {
        let threads = std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1);
        let chunk = records.len().div_ceil(threads).max(1);
        let decoded: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|r| Announcement::decode(&r.announcement).map(|a| (a, r.holders.clone())))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut refused = None;
        let mut offers = Vec::with_capacity(decoded.len());
        for result in decoded {
            match result {
                Ok(offer) => offers.push(offer),
                Err(e) => {
                    refused.get_or_insert_with(|| e.reason().to_owned());
                }
            }
        }
        let outcomes = self.events.catalog_offer(&offers, now_ms())?;
        let changed: Vec<DesignId> = offers
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Offered::New | Offered::Replaced))
            .map(|((a, _), _)| a.design())
            .collect();
        let added = changed.len();
        self.search.heard_of(changed);
        Ok((added, refused))
    }

    /// Offers an announcement gossiped by `publisher` (who keeps its
    /// design: a node gossips only its own announcements).
    pub(crate) fn offer_announcement(
        &self,
        announcement: Announcement,
        publisher: AuthorId,
    ) -> Result<Offered, NodeError> {
        let design = announcement.design();
        let outcomes = self.events.catalog_offer(&[(announcement, vec![publisher])], now_ms())?;
        let outcome = outcomes.into_iter().next().unwrap_or(Offered::Older);
        if matches!(outcome, Offered::New | Offered::Replaced) {
            self.search.heard_of([design]);
        }
        Ok(outcome)
    }

    /// Brings this node's own announcements up to date: of the designs of
    /// `touched` it keeps and holds, or of all of them (`None`, which also
    /// marks the entries of designs no longer kept). Returns those that
    /// changed.
    pub(crate) fn refresh_own_announcements(
        &self,
        present: &BTreeSet<DesignId>,
        touched: Option<&[DesignId]>,
    ) -> Result<Vec<Announcement>, NodeError> {
        let designs: Vec<DesignId> = match touched {
            Some(touched) => touched.iter().filter(|d| present.contains(d)).copied().collect(),
            None => present.iter().copied().collect(),
        };
        let mut own = Vec::with_capacity(designs.len());
        for design in designs {
            if let Some(announcement) = self.events.own_announcement(&design)? {
                own.push(announcement);
            }
        }
        let unkept: Vec<DesignId> = match touched {
            Some(_) => Vec::new(),
            None => self.events.catalog_kept()?.into_iter().filter(|d| !present.contains(d)).collect(),
        };
        Ok(self.events.catalog_set_own(&own, &unkept, now_ms())?)
    }

    /// The entries of designs this node no longer keeps become ordinary
    /// ones (evictable).
    pub(crate) fn unkeep_announcements(&self, designs: &[DesignId]) -> Result<(), NodeError> {
        self.events.catalog_set_own(&[], designs, now_ms())?;
        Ok(())
    }

    /// Every entry of the catalog.
    pub(crate) fn catalog_entries(&self) -> Result<Vec<CatalogEntry>, NodeError> {
        Ok(self.events.catalog_entries()?)
    }

    /// The catalog's entry of one design.
    pub(crate) fn catalog_entry(&self, design: &DesignId) -> Result<Option<CatalogEntry>, NodeError> {
        Ok(self.events.catalog_entry(design)?)
    }
}
