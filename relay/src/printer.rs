//! The watcher's output: one line per change on stdout, as api.php's JSON (rcjson.rs) or as the `<rc>`
//! element, each rcid at most once and in increasing order; a jump in the rcids is reported as a gap.

use crate::rcjson::rc_json;
use std::io::Write;
use xmpp_parsers::minidom::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

pub struct Printer<W: Write> {
    out: W,
    format: Format,
    /// The highest rcid printed (or the one the history starts after).
    last: Option<u64>,
    pub printed: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub missing: u64,
}

/// A change's rcid; `None` without one (e.g. a patrol, which core sends with rcid 0 and never stores).
pub fn rcid(rc: &Element) -> Option<u64> {
    rc.attr("rcid")?.parse().ok().filter(|n| *n > 0)
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: Format, after: Option<u64>) -> Printer<W> {
        Printer {
            out,
            format,
            last: after,
            printed: 0,
            duplicates: 0,
            gaps: 0,
            missing: 0,
        }
    }

    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Prints a change unless its rcid was printed already (or is older); reports a gap before it.
    pub fn print(&mut self, rc: &Element) -> std::io::Result<()> {
        if let Some(id) = rcid(rc) {
            match self.last {
                Some(last) if id <= last => {
                    self.duplicates += 1;
                    return Ok(());
                }
                Some(last) if id > last + 1 => self.gap(last, id)?,
                _ => {}
            }
            self.last = Some(id);
        }
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.out, &rc_json(rc))?;
                self.out.write_all(b"\n")?;
            }
            Format::Xml => {
                rc.write_to(&mut self.out)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                self.out.write_all(b"\n")?;
            }
        }
        self.printed += 1;
        self.out.flush()
    }

    /// rcids between `after` and `before` never reached this client: it cannot tell why (a suppressed change,
    /// a datagram lost before the bridge, an archive trimmed), so it says so and counts.
    fn gap(&mut self, after: u64, before: u64) -> std::io::Result<()> {
        self.gaps += 1;
        self.missing += before - after - 1;
        tracing::warn!(
            after,
            before,
            missing = before - after - 1,
            gaps = self.gaps,
            "rcid gap unexplained by this client"
        );
        if self.format == Format::Json {
            let line = serde_json::json!({"gap": {"after": after, "before": before}});
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(id: u64) -> Element {
        format!(r#"<rc xmlns="jabber:client" type="edit" rcid="{id}"/>"#)
            .parse()
            .unwrap()
    }

    #[test]
    fn dedupes_and_reports_gaps() {
        let mut p = Printer::new(Vec::new(), Format::Json, Some(1));
        for id in [1, 2, 3, 3, 6, 5, 7] {
            p.print(&rc(id)).unwrap();
        }
        let out = String::from_utf8(p.out.clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert_eq!(lines[2], r#"{"gap":{"after":3,"before":6}}"#);
        assert_eq!((p.printed, p.duplicates, p.gaps, p.missing), (4, 3, 1, 2));
    }
}
