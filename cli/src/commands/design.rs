//! The commands that work on designs in the store.

use communs_node::Node;
use communs_node::fork::ForkRequest;
use communs_node::net::Network;
use communs_node::publish::PublishRequest;
use communs_protocol::governance::LossReason;
use communs_protocol::{Body, Manifest, SignedEvent};
use indicatif::HumanBytes;
use serde_json::{Value, json};

use super::govern::change_text;
use super::{format_time, now_ms};
use crate::output::Output;
use crate::progress;
use crate::{BundleCommand, Command};

pub(super) async fn run(node: &Node, net: Option<&Network>, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Publish { dir, message, design, license, maintainers, threshold } => {
            let request =
                PublishRequest { folder: dir, message, design, license, maintainers, threshold, now_ms: now_ms() };
            let bar = progress::for_work("publishing", out.quiet());
            let published = node.publish(request, bar.as_ref()).await?;
            for warning in &published.warnings {
                out.warn(warning);
            }
            out.print(
                json!({
                    "design": published.design.to_string(),
                    "revision": published.revision.to_string(),
                    "new_design": published.new_design,
                    "unchanged": published.unchanged,
                    "files": published.files,
                    "bytes": published.bytes,
                    "bytes_read": published.bytes_imported,
                    "warnings": published.warnings,
                }),
                || {
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
                },
            );
        }
        Command::List { limit, after } => {
            // One more than asked, to know whether more designs follow.
            let mut designs = node.list(after.as_ref(), limit.saturating_add(1))?;
            let more = designs.len() > limit;
            designs.truncate(limit);
            let rows: Vec<Value> = designs
                .iter()
                .map(|d| {
                    json!({
                        "design": d.design.to_string(),
                        "name": d.name,
                        "canonical": d.canonical.map(|c| c.to_string()),
                        "revisions": d.revisions,
                        "events": d.events,
                        "fork_of": d.fork_of.map(|(design, rev)| json!({ "design": design.to_string(), "revision": rev.to_string() })),
                    })
                })
                .collect();
            out.print(Value::Array(rows), || {
                match (designs.is_empty(), after) {
                    (true, None) => return "No designs yet: `communs publish DIR` adds one.".to_owned(),
                    (true, Some(after)) => return format!("No designs after {after}."),
                    _ => {}
                }
                let mut lines: Vec<String> = designs
                    .iter()
                    .map(|d| format!("{}  {}  ({} revision{})", d.design, d.name, d.revisions, plural(d.revisions)))
                    .collect();
                if let (true, Some(last)) = (more, designs.last()) {
                    lines.push(format!("(more designs: communs list --after {})", last.design));
                }
                lines.join("\n")
            });
        }
        Command::Show { target } => {
            let view = node.show(&target.design, target.revision).await?;
            let r = &view.resolution;
            let files: Vec<Value> = view
                .tree
                .entries()
                .iter()
                .map(|e| json!({ "path": e.path.as_str(), "size": e.size, "blob": e.blob.to_string(), "executable": e.executable }))
                .collect();
            let fork_of = view.genesis.fork_of;
            out.print(
                json!({
                    "design": view.design.to_string(),
                    "revision": view.revision.to_string(),
                    "canonical": r.canonical.map(|c| c.to_string()),
                    "competing": r.competing.iter().map(|c| c.revision.to_string()).collect::<Vec<_>>(),
                    "is_canonical": r.canonical == Some(view.revision),
                    "author": view.author.to_string(),
                    "time": view.time,
                    "message": view.body.message,
                    "license": view.genesis.license,
                    "maintainers": r.maintainers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "threshold": r.threshold,
                    "fork_of": fork_of.map(|(d, rev)| json!({ "design": d.to_string(), "revision": rev.to_string() })),
                    "manifest": manifest_json(view.manifest()),
                    "files": files,
                    "total_bytes": view.tree.total_size(),
                }),
                || {
                    let m = view.manifest();
                    let mut lines = vec![
                        format!("{}{}", m.name, m.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default()),
                        format!("  design     {}", view.design),
                        format!(
                            "  revision   {}{}",
                            view.revision,
                            if r.canonical == Some(view.revision) { " (canonical)" } else { "" }
                        ),
                        format!("  by         {} at {}", view.author, format_time(view.time)),
                        format!("  license    {}", license_line(m)),
                    ];
                    if let Some(function) = &m.function {
                        lines.push(format!("  function   {function}"));
                    }
                    if let Some((d, rev)) = fork_of {
                        lines.push(format!("  remix of   {d}@{rev}"));
                    }
                    match r.canonical {
                        Some(c) if c != view.revision => lines.push(format!("  canonical  {c}")),
                        None => lines.push("  canonical  none yet".to_owned()),
                        _ => {}
                    }
                    for c in &r.competing {
                        lines.push(format!("  competing  {} ({})", c.revision, loss_text(c.lost)));
                    }
                    lines.push(format!("  maintainers ({} of {} must approve):", r.threshold, r.maintainers.len()));
                    lines.extend(r.maintainers.iter().map(|m| format!("    {m}")));
                    lines.push(format!(
                        "  files ({}, {}):",
                        view.tree.entries().len(),
                        HumanBytes(view.tree.total_size())
                    ));
                    lines.extend(view.tree.entries().iter().map(|e| {
                        format!(
                            "    {:>10}  {}{}",
                            HumanBytes(e.size).to_string(),
                            e.path,
                            if e.executable { " *" } else { "" }
                        )
                    }));
                    lines.join("\n")
                },
            );
        }
        Command::Log { design, limit, before } => {
            // One more than asked, to know whether older events remain.
            let mut events = node.log(&design, before, limit.saturating_add(1))?;
            let more = events.len() > limit;
            events.truncate(limit);
            out.print(Value::Array(events.iter().map(event_json).collect()), || {
                let mut lines: Vec<String> = events.iter().map(event_line).collect();
                if let (true, Some(last)) = (more, events.last()) {
                    lines.push(format!("(older events: communs log {design} --before {})", last.id()));
                }
                lines.join("\n")
            });
        }
        Command::Get { target, dir, force } => {
            let bar = progress::for_work("getting", out.quiet());
            let done = match net {
                // What this store lacks comes from peers: the design's
                // events first, then each file as it is written out.
                Some(net) => {
                    let _claim = net.claim_design(target.design);
                    if !node.has_design(&target.design)? {
                        let scope = communs_node::net::Interest::designs([target.design]);
                        net.catch_up_all(&scope).await;
                    }
                    net.get(target.design, target.revision, &dir, force, bar.as_ref()).await?
                }
                None => node.get(&target.design, target.revision, &dir, force, bar.as_ref()).await?,
            };
            out.print(
                json!({
                    "design": done.design.to_string(),
                    "revision": done.revision.to_string(),
                    "dir": dir.display().to_string(),
                    "files": done.files,
                    "bytes": done.bytes,
                }),
                || {
                    format!(
                        "Wrote {} files ({}) of {}@{} into {}",
                        done.files,
                        HumanBytes(done.bytes),
                        done.design,
                        done.revision,
                        dir.display()
                    )
                },
            );
        }
        Command::Fork { target, name, license } => {
            let forked = node.fork(ForkRequest {
                source: target.design,
                revision: target.revision,
                name,
                license,
                now_ms: now_ms(),
            })?;
            out.print(
                json!({
                    "design": forked.design.to_string(),
                    "revision": forked.revision.to_string(),
                    "fork_of": { "design": forked.source.to_string(), "revision": forked.source_revision.to_string() },
                    "license": forked.license,
                }),
                || {
                    format!(
                        "Remixed {}@{}\n  design    {}\n  revision  {}\n  license   {}\n`communs get {}` checks it out.",
                        forked.source, forked.source_revision, forked.design, forked.revision, forked.license, forked.design
                    )
                },
            );
        }
        Command::Fsck => {
            let bar = progress::for_work("checking", out.quiet());
            let report = node.fsck(bar.as_ref()).await?;
            let problems: Vec<Value> = report
                .problems
                .iter()
                .map(|p| json!({ "kind": p.kind, "subject": p.subject, "detail": p.detail }))
                .collect();
            out.print(
                json!({
                    "ok": report.is_clean(),
                    "events": report.events,
                    "blobs": report.blobs,
                    "bytes": report.bytes,
                    "partial_blobs": report.partial_blobs,
                    "absent_blobs": report.absent_blobs,
                    "problems": problems,
                }),
                || {
                    let mut lines = vec![format!(
                        "Checked {} events and {} blobs ({})",
                        report.events,
                        report.blobs,
                        HumanBytes(report.bytes)
                    )];
                    lines.extend(report.problems.iter().map(|p| format!("  {}: {}: {}", p.kind, p.subject, p.detail)));
                    if report.is_clean() {
                        lines.push("No problems found.".to_owned());
                    }
                    lines.join("\n")
                },
            );
            if !report.is_clean() {
                anyhow::bail!("fsck found {} problem(s)", report.problems.len());
            }
        }
        Command::Bundle(BundleCommand::Export { args, all }) => {
            let (designs, file) = BundleCommand::export_targets(&args, all)?;
            let bar = progress::for_work("exporting", out.quiet());
            let summary = match all {
                true => node.bundle_export_all(&file, bar.as_ref()).await?,
                false => node.bundle_export_many(&designs, &file, bar.as_ref()).await?,
            };
            let ids: Vec<String> = summary.designs.iter().map(ToString::to_string).collect();
            let of = match ids.as_slice() {
                [one] => one.clone(),
                many => format!("{} designs", many.len()),
            };
            out.print(
                json!({ "designs": ids, "file": file.display().to_string(), "events": summary.events, "blobs": summary.blobs, "bytes": summary.bytes }),
                || format!("Wrote {} events and {} blobs ({}) of {} to {}", summary.events, summary.blobs, HumanBytes(summary.bytes), of, file.display()),
            );
        }
        Command::Bundle(BundleCommand::Import { file }) => {
            let bar = progress::for_work("importing", out.quiet());
            let summary = node.bundle_import(&file, bar.as_ref()).await?;
            out.print(
                json!({
                    "designs": summary.designs.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "events": summary.events,
                    "new_events": summary.new_events,
                    "blobs": summary.blobs,
                    "new_blobs": summary.new_blobs,
                }),
                || {
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
                },
            );
        }
        _ => unreachable!("dispatched to another module"),
    }
    Ok(())
}

pub(super) fn loss_text(lost: LossReason) -> &'static str {
    match lost {
        LossReason::FewerApprovals => "fewer approvals",
        LossReason::LowerClock => "as many approvals, older",
        LossReason::HigherId => "tie broken by id",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn license_line(m: &Manifest) -> String {
    if let Some(single) = m.license.as_single() {
        return single.to_owned();
    }
    [("hardware", &m.license.hardware), ("documentation", &m.license.documentation), ("software", &m.license.software)]
        .iter()
        .filter_map(|(kind, l)| l.as_ref().map(|l| format!("{kind}: {l}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn manifest_json(m: &Manifest) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "function": m.function,
        "license": {
            "hardware": m.license.hardware,
            "documentation": m.license.documentation,
            "software": m.license.software,
        },
        "licensor": m.licensors,
        "keywords": m.keywords,
        "image": m.images,
        "documentation-language": m.documentation_languages,
        "fork-of": m.fork_of,
        "okh_toml": m.to_okh_toml(),
    })
}

fn body_json(body: &Body) -> Value {
    match body {
        Body::Genesis(g) => json!({
            "kind": "genesis",
            "name": g.name,
            "maintainers": g.maintainers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "threshold": g.threshold,
            "license": g.license,
            "fork_of": g.fork_of.map(|(d, r)| json!({ "design": d.to_string(), "revision": r.to_string() })),
        }),
        Body::Revision(r) => json!({
            "kind": "revision",
            "tree": r.tree.to_string(),
            "name": r.manifest.name,
            "base": r.base.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "message": r.message,
        }),
        Body::Approve { target } => json!({ "kind": "approve", "target": target.to_string() }),
        Body::Retract { target } => json!({ "kind": "retract", "target": target.to_string() }),
        Body::Propose { prev, change } => json!({
            "kind": "propose",
            "prev": prev.to_string(),
            "change": change_text(change),
        }),
    }
}

fn event_json(e: &SignedEvent) -> Value {
    json!({
        "id": e.id().to_string(),
        "author": e.author().to_string(),
        "clock": e.clock(),
        "time": e.event().time,
        "parents": e.parents().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "body": body_json(e.body()),
    })
}

fn event_line(e: &SignedEvent) -> String {
    let what = match e.body() {
        Body::Genesis(g) => {
            format!("genesis   {:?}, {} maintainer(s), threshold {}", g.name, g.maintainers.len(), g.threshold)
        }
        Body::Revision(r) => {
            format!("revision  {}", if r.message.is_empty() { r.manifest.name.as_str() } else { r.message.as_str() })
        }
        Body::Approve { target } => format!("approve   {target}"),
        Body::Retract { target } => format!("retract   {target}"),
        Body::Propose { change, .. } => format!("propose   {}", change_text(change)),
    };
    format!("{}  {}  {}\n    by {}", e.id(), format_time(e.event().time), what, e.author())
}
