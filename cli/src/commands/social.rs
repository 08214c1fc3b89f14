//! `comment`, `comments`, `made`, `makes`, `profile set`, `author`, `name`.

use std::collections::BTreeMap;

use communs_node::service::{
    AttachmentView, CommentRequest, CommentView, MakeRequest, MakeTally, PolicyChange, ProfileRequest,
};
use indicatif::HumanBytes;

use super::{format_time, path_for, who};
use crate::backend::Backend;
use crate::output::Output;
use crate::{Command, ProfileCommand};

pub(super) async fn run(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Comment { design, message, on, attach } => {
            let attachments = attach.iter().map(|p| path_for(backend, p)).collect::<Result<_, _>>()?;
            let signed = backend.comment(design, CommentRequest { text: message, on, attachments }).await?;
            out.show(&signed, || format!("Commented on {design}\n  event  {}", signed.event))
        }
        Command::Comments { design } => {
            let threads = backend.comments(design).await?;
            out.show(&threads, || {
                let mut lines = Vec::new();
                for comment in &threads.comments {
                    comment_lines(comment, &threads.names, 0, &mut lines);
                }
                if lines.is_empty() {
                    lines.push(format!("No comments on {design} yet: `communs comment {design} -m TEXT` adds one."));
                }
                if threads.muted > 0 {
                    lines.push(format!("({} comment(s) by muted authors hidden)", threads.muted));
                }
                lines.join("\n")
            })
        }
        Command::Made { target, outcome, process, machine, material, settings, photos, message } => {
            let photos = photos.iter().map(|p| path_for(backend, p)).collect::<Result<_, _>>()?;
            let request = MakeRequest {
                revision: target.revision,
                outcome,
                process,
                machine,
                material,
                settings: settings.into_iter().collect(),
                notes: message,
                photos,
            };
            let signed = backend.report_make(target.design, request).await?;
            out.show(&signed, || format!("Reported a make of {}\n  event  {}", target.design, signed.event))
        }
        Command::Makes { design } => {
            let reports = backend.make_reports(design).await?;
            out.show(&reports, || {
                let mut lines = Vec::new();
                for made in &reports.revisions {
                    lines.push(format!("{}  {}", made.revision, tally_text(&made.tally)));
                }
                for r in &reports.reports {
                    let how: Vec<&str> = [&r.process, &r.machine, &r.material]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .map(String::as_str)
                        .collect();
                    lines.push(format!(
                        "{}  {}  {}{}\n    by {}, of {}",
                        r.id,
                        format_time(r.time),
                        r.outcome,
                        if how.is_empty() { String::new() } else { format!(" ({})", how.join(", ")) },
                        who(&reports.names, &r.author),
                        r.revision
                    ));
                    lines.extend(r.settings.iter().map(|(k, v)| format!("    {k}: {v}")));
                    lines.extend(r.notes.lines().map(|l| format!("    {l}")));
                    lines.extend(r.photos.iter().map(attachment_line));
                }
                if lines.is_empty() {
                    lines.push(format!(
                        "Nobody reported making {design} yet: `communs made {design} --outcome worked`."
                    ));
                }
                lines.join("\n")
            })
        }
        Command::Profile(ProfileCommand::Set { name, bio, place, links, avatar }) => {
            let avatar = avatar.map(|p| path_for(backend, &p)).transpose()?;
            let signed = backend.set_profile(ProfileRequest { name, bio, place, links, avatar }).await?;
            out.show(&signed, || format!("Signed a new profile\n  event  {}", signed.event))
        }
        Command::Author { author } => {
            let view = backend.author(author).await?;
            out.show(&view, || {
                let mut lines = vec![view.author.to_string()];
                if let Some(local) = &view.local_name {
                    lines.push(format!("  your name  {local}"));
                }
                match &view.profile {
                    Some(p) => {
                        lines.push(format!("  name       {}", p.name));
                        if !p.place.is_empty() {
                            lines.push(format!("  place      {}", p.place));
                        }
                        lines.extend(p.bio.lines().map(|l| format!("  bio        {l}")));
                        lines.extend(p.links.iter().map(|l| format!("  link       {l}")));
                        if let Some(avatar) = &p.avatar {
                            lines.push(format!("  avatar     {} ({})", avatar.name, HumanBytes(avatar.size)));
                        }
                        lines.push(format!("  profile    {} (number {}, {})", p.id, p.clock, format_time(p.time)));
                    }
                    None => lines.push("  no profile known on this node".to_owned()),
                }
                lines.join("\n")
            })
        }
        Command::Name { author, name, forget: _, reason } => {
            let name = name.unwrap_or_default();
            let recorded = backend.set_policy(PolicyChange::Name { author, name: name.clone(), reason }).await?;
            out.show(&recorded, || {
                if name.is_empty() {
                    format!("Forgot your name for {author}")
                } else {
                    format!("{author} is {name} on this node")
                }
            })
        }
        _ => anyhow::bail!("not a social command"),
    }
}

/// "3 makes: 2 worked, 1 failed".
pub(super) fn tally_text(t: &MakeTally) -> String {
    let parts: Vec<String> =
        [(t.worked, "worked"), (t.worked_with_changes, "worked with changes"), (t.failed, "failed")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
    match t.total() {
        0 => "not made yet".to_owned(),
        1 => format!("made once: {}", parts.join(", ")),
        n => format!("made {n} times: {}", parts.join(", ")),
    }
}

fn attachment_line(a: &AttachmentView) -> String {
    format!("    [{}] {} ({})", a.name, a.blob, HumanBytes(a.size))
}

fn comment_lines(c: &CommentView, names: &BTreeMap<String, String>, depth: usize, lines: &mut Vec<String>) {
    let indent = "  ".repeat(depth);
    lines.push(format!("{indent}{}  {}  {}", c.id, format_time(c.time), who(names, &c.author)));
    lines.extend(c.text.lines().map(|l| format!("{indent}    {l}")));
    lines.extend(c.attachments.iter().map(|a| format!("{indent}{}", attachment_line(a))));
    for reply in &c.replies {
        comment_lines(reply, names, depth + 1, lines);
    }
}
