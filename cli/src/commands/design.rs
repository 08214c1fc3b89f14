//! The commands that work on designs and on the store as a whole.

use communs_node::marker::Marker;
use communs_node::service::{
    CatalogRequest, DesignView, EventBody, EventView, ExportRequest, ForkRequest, GetRequest, ImportRequest,
    ListRequest, LogRequest, ManifestLicense, OkhFormat, PublishRequest, SearchRequest, SearchResults,
};
use indicatif::HumanBytes;

use super::social::tally_text;
use super::{format_time, path_for, plural, who};
use crate::backend::Backend;
use crate::output::Output;
use crate::progress;
use crate::{BundleCommand, Command, OkhArg};

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    let quiet = out.quiet();
    match command {
        Command::Publish { dir, message, design, license, maintainers, threshold } => {
            let folder = path_for(backend, &dir)?;
            let request = PublishRequest { dir: folder.clone(), message, design, license, maintainers, threshold };
            let mut published = backend.publish(request, progress::for_work("publishing", quiet).as_ref()).await?;
            for warning in &published.warnings {
                out.warn(warning);
            }
            if !published.marked {
                // A running node reads the folder as its own user (the
                // packaged service, read-only); this process runs as the
                // folder's owner.
                let marker = Marker { design: published.design, revision: published.revision };
                match communs_node::marker::write(&folder, &marker) {
                    Ok(()) => {
                        published.marked = true;
                        published.marker_error = None;
                    }
                    Err(e) => out.warn(&format!(
                        "published, but {e}: this folder does not record that it holds {design}; \
                         the next publish from it makes a new design unless it names this one (--design {design})",
                        design = published.design
                    )),
                }
            }
            out.show(&published, || {
                let what = if published.unchanged {
                    "Nothing changed since the last revision"
                } else if published.new_design {
                    "Published a new design"
                } else {
                    "Published a new revision"
                };
                format!(
                    "{what}\n  design    {}\n  revision  {}\n  {} files, {}",
                    published.design,
                    published.revision,
                    published.files,
                    HumanBytes(published.bytes)
                )
            })
        }
        Command::List { catalog: true, limit, after } => {
            let page = backend.catalog(CatalogRequest { limit, after }).await?;
            out.show(&page.designs, || {
                match (page.designs.is_empty(), after) {
                    (true, None) => return "No design heard of yet: peers announce theirs when connected.".to_owned(),
                    (true, Some(after)) => return format!("No designs after {after}."),
                    _ => {}
                }
                let mut lines = Vec::new();
                for d in &page.designs {
                    let kept = if d.kept { "  (kept)" } else { "" };
                    lines.push(format!("{}  {}  {}{kept}", d.design, d.name, d.license));
                    let revision = d.revision.map_or_else(|| "none announced".to_owned(), |r| r.to_string());
                    lines.push(format!("    revision  {revision}"));
                    let holders: Vec<&str> = d.holders.iter().map(|h| h.peer_id.as_str()).collect();
                    let holders = if holders.is_empty() { "none known".to_owned() } else { holders.join(", ") };
                    lines.push(format!("    holders   {holders}"));
                }
                if let (true, Some(last)) = (page.more, page.designs.last()) {
                    lines.push(format!("(more designs: communs list --catalog --after {})", last.design));
                }
                lines.join("\n")
            })
        }
        Command::List { catalog: false, limit, after } => {
            let page = backend.list(ListRequest { limit, after }).await?;
            out.show(&page.designs, || {
                match (page.designs.is_empty(), after) {
                    (true, None) => return "No designs yet: `communs publish DIR` adds one.".to_owned(),
                    (true, Some(after)) => return format!("No designs after {after}."),
                    _ => {}
                }
                let mut lines: Vec<String> = page
                    .designs
                    .iter()
                    .map(|d| {
                        let made = match d.makes.total() {
                            0 => String::new(),
                            n => format!(", made {n} time{}", plural(n as usize)),
                        };
                        format!("{}  {}  ({} revision{}{made})", d.design, d.name, d.revisions, plural(d.revisions))
                    })
                    .collect();
                if let (true, Some(last)) = (page.more, page.designs.last()) {
                    lines.push(format!("(more designs: communs list --after {})", last.design));
                }
                lines.join("\n")
            })
        }
        Command::Show { target, okh: Some(format) } => {
            let format = match format {
                OkhArg::Toml => OkhFormat::Toml,
                OkhArg::Yml => OkhFormat::Yml,
            };
            let text = backend.okh(target.design, target.revision, format).await?;
            out.file(format.file_name(), &text)
        }
        Command::Show { target, okh: None } => {
            let view = backend.show(target.design, target.revision).await?;
            out.show(&view, || show_text(&view))
        }
        Command::Search { text, license, keyword, author, made, limit, network } => {
            let request =
                SearchRequest { q: text.join(" "), license, keyword, author, made, held: None, limit, network };
            let found = backend.search(request).await?;
            out.show(&found, || search_text(&found))
        }
        Command::Log { design, limit, before } => {
            let page = backend.log(design, LogRequest { limit, before }).await?;
            out.show(&page.events, || {
                let mut lines: Vec<String> = page.events.iter().map(|e| event_line(e, &page.names)).collect();
                if let (true, Some(last)) = (page.more, page.events.last()) {
                    lines.push(format!("(older events: communs log {design} --before {})", last.id));
                }
                lines.join("\n")
            })
        }
        Command::Get { target, dir, force } => {
            let request = GetRequest { revision: target.revision, dir: path_for(backend, &dir)?, force };
            let done = backend.get(target.design, request, progress::for_work("getting", quiet).as_ref()).await?;
            out.show(&done, || {
                format!(
                    "Wrote {} files ({}) of {}@{} into {}",
                    done.files,
                    HumanBytes(done.bytes),
                    done.design,
                    done.revision,
                    dir.display()
                )
            })
        }
        Command::Fork { target, name, license } => {
            let forked = backend.fork(target.design, ForkRequest { revision: target.revision, name, license }).await?;
            out.show(&forked, || {
                format!(
                    "Remixed {}@{}\n  design    {}\n  revision  {}\n  license   {}\n`communs get {}` checks it out.",
                    forked.fork_of.design,
                    forked.fork_of.revision,
                    forked.design,
                    forked.revision,
                    forked.license,
                    forked.design
                )
            })
        }
        Command::Fsck => {
            let report = backend.fsck(progress::for_work("checking", quiet).as_ref()).await?;
            out.show(&report, || {
                let mut lines = vec![format!(
                    "Checked {} events and {} blobs ({})",
                    report.events,
                    report.blobs,
                    HumanBytes(report.bytes)
                )];
                lines.extend(report.problems.iter().map(|p| format!("  {}: {}: {}", p.kind, p.subject, p.detail)));
                if report.ok {
                    lines.push("No problems found.".to_owned());
                }
                lines.join("\n")
            })?;
            if !report.ok {
                anyhow::bail!("fsck found {} problem(s)", report.problems.len());
            }
            Ok(())
        }
        Command::Gc => {
            let report = backend.gc().await?;
            out.show(&report, || gc_line(&report))
        }
        Command::Bundle(BundleCommand::Export { args, all }) => {
            let (designs, file) = BundleCommand::export_targets(&args, all)?;
            let request = ExportRequest { designs, all, file: path_for(backend, &file)? };
            let summary = backend.bundle_export(request, progress::for_work("exporting", quiet).as_ref()).await?;
            let of = match summary.designs.as_slice() {
                [one] => one.to_string(),
                many => format!("{} designs", many.len()),
            };
            out.show(&summary, || {
                format!(
                    "Wrote {} events and {} blobs ({}) of {} to {}",
                    summary.events,
                    summary.blobs,
                    HumanBytes(summary.bytes),
                    of,
                    file.display()
                )
            })
        }
        Command::Bundle(BundleCommand::Import { file }) => {
            let request = ImportRequest { file: path_for(backend, &file)? };
            let summary = backend.bundle_import(request, progress::for_work("importing", quiet).as_ref()).await?;
            out.show(&summary, || {
                if summary.new_events == 0 && summary.new_blobs == 0 {
                    format!("Nothing new: this store already holds everything in {}", file.display())
                } else {
                    format!(
                        "Imported {} new events and {} new blobs from {} (designs: {})",
                        summary.new_events,
                        summary.new_blobs,
                        file.display(),
                        summary.designs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    )
                }
            })
        }
        _ => anyhow::bail!("not a design command"),
    }
}

pub(super) fn gc_line(report: &communs_node::gc::GcReport) -> String {
    format!(
        "Freed {} blobs ({}) in {} ms; {} blobs kept",
        report.freed_blobs,
        HumanBytes(report.freed_bytes),
        report.millis,
        report.kept_blobs
    )
}

fn show_text(view: &DesignView) -> String {
    let m = &view.manifest;
    let mut lines = vec![
        format!("{}{}", m.name, m.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default()),
        format!("  design     {}", view.design),
        format!("  revision   {}{}", view.revision, if view.is_canonical { " (canonical)" } else { "" }),
        format!("  by         {} at {}", who(&view.names, &view.author), format_time(view.time)),
        format!("  license    {}", license_line(&m.license)),
    ];
    if let Some(function) = &m.function {
        lines.push(format!("  function   {function}"));
    }
    if let Some(fork) = view.fork_of {
        lines.push(format!("  remix of   {}@{}", fork.design, fork.revision));
    }
    match view.canonical {
        Some(c) if c != view.revision => lines.push(format!("  canonical  {c}")),
        None => lines.push("  canonical  none yet".to_owned()),
        _ => {}
    }
    for c in &view.competing_heads {
        lines.push(format!("  competing  {} ({})", c.revision, c.lost));
    }
    lines.push(format!("  maintainers ({} of {} must approve):", view.threshold, view.maintainers.len()));
    lines.extend(view.maintainers.iter().map(|m| format!("    {}", who(&view.names, m))));
    lines.push(format!("  makes      {}", tally_text(&view.makes)));
    for other in view.revision_makes.iter().filter(|m| m.revision != view.revision) {
        lines.push(format!("             {}: {}", other.revision, tally_text(&other.tally)));
    }
    if view.comments > 0 {
        lines.push(format!("  comments   {} (communs comments {})", view.comments, view.design));
    }
    lines.push(format!("  files ({}, {}):", view.files.len(), HumanBytes(view.total_bytes)));
    lines.extend(view.files.iter().map(|e| {
        format!("    {:>10}  {}{}", HumanBytes(e.size).to_string(), e.path, if e.executable { " *" } else { "" })
    }));
    lines.join("\n")
}

/// Search results, best first: the name, then the whole design id (what
/// `show`, `get`, `follow`, `comment` and `made` take, copied from here),
/// license, makes and score.
fn search_text(found: &SearchResults) -> String {
    if found.hits.is_empty() {
        return "No design matches.".to_owned();
    }
    found
        .hits
        .iter()
        .map(|hit| {
            let license = if hit.licenses.is_empty() { "no license".to_owned() } else { hit.licenses.join(", ") };
            let heard = if hit.held { "" } else { ", heard of, not held" };
            let made = match hit.makes {
                0 => String::new(),
                n => format!(", made {n} time{}", plural(n as usize)),
            };
            let on = match hit.found_on.len() {
                0 => String::new(),
                n => format!(", listed by {n} peer{}", plural(n)),
            };
            format!("{}\n  {}  [{license}{made}{heard}{on}]  score {:.2}", hit.name, hit.design, hit.score)
        })
        .chain(found.failures.iter().map(|f| format!("(peer {} gave no answer: {})", f.peer_id, f.reason)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn license_line(license: &ManifestLicense) -> String {
    if let Some(single) = license.as_single() {
        return single.to_owned();
    }
    [("hardware", &license.hardware), ("documentation", &license.documentation), ("software", &license.software)]
        .iter()
        .filter_map(|(kind, l)| l.as_ref().map(|l| format!("{kind}: {l}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn event_line(e: &EventView, names: &std::collections::BTreeMap<String, String>) -> String {
    let what = match &e.body {
        EventBody::Genesis { name, maintainers, threshold, .. } => {
            format!("genesis   {name:?}, {} maintainer(s), threshold {threshold}", maintainers.len())
        }
        EventBody::Revision { name, message, .. } => {
            format!("revision  {}", if message.is_empty() { name.as_str() } else { message.as_str() })
        }
        EventBody::Approve { target } => format!("approve   {target}"),
        EventBody::Retract { target } => format!("retract   {target}"),
        EventBody::Propose { change, .. } => format!("propose   {change}"),
        EventBody::Comment { text, .. } => {
            format!("comment   {}", text.lines().next().unwrap_or_default().chars().take(60).collect::<String>())
        }
        EventBody::MakeReport(m) => format!("made      {} ({})", m.revision, m.outcome),
    };
    format!("{}  {}  {}\n    by {}", e.id, format_time(e.time), what, who(names, &e.author))
}
