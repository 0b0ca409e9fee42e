//! Per-service log store: every line a service's instances print, with its time,
//! instance and stream, kept up to a byte budget (oldest lines go first), and a
//! broadcast for followers.

use std::collections::VecDeque;
use std::sync::Mutex;

use andon_core::Timestamp;
use serde::Serialize;
use tokio::sync::broadcast;

/// Default budget per service.
pub const DEFAULT_BUDGET_BYTES: usize = 2 * 1024 * 1024;
/// Longest line kept; longer ones are cut and marked.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub time: Timestamp,
    pub instance: u32,
    pub stream: &'static str,
    pub text: String,
}

pub struct LogStore {
    inner: Mutex<Inner>,
    budget: usize,
    tx: broadcast::Sender<LogLine>,
}

struct Inner {
    lines: VecDeque<LogLine>,
    bytes: usize,
}

impl LogStore {
    pub fn new(budget: usize) -> Self {
        let (tx, _) = broadcast::channel(1024);
        LogStore { inner: Mutex::new(Inner { lines: VecDeque::new(), bytes: 0 }), budget, tx }
    }

    pub fn push(&self, mut line: LogLine) {
        if line.text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.text.is_char_boundary(cut) {
                cut -= 1;
            }
            line.text.truncate(cut);
            line.text.push_str(" …[line cut]");
        }
        let size = line.text.len() + 32;
        if let Ok(mut g) = self.inner.lock() {
            g.bytes += size;
            g.lines.push_back(line.clone());
            while g.bytes > self.budget {
                match g.lines.pop_front() {
                    Some(old) => g.bytes -= old.text.len() + 32,
                    None => break,
                }
            }
        }
        let _ = self.tx.send(line);
    }

    /// Lines at or after `since`, of one instance if given, oldest first.
    pub fn read(&self, since: Option<Timestamp>, instance: Option<u32>) -> Vec<LogLine> {
        let Ok(g) = self.inner.lock() else { return Vec::new() };
        g.lines
            .iter()
            .filter(|l| {
                since.is_none_or(|s| l.time >= s) && instance.is_none_or(|i| l.instance == i)
            })
            .cloned()
            .collect()
    }

    /// New lines as they arrive (subscribe before `read` to miss none).
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u32, t: i64, text: &str) -> LogLine {
        LogLine { time: Timestamp(t), instance: i, stream: "stdout", text: text.into() }
    }

    #[test]
    fn oldest_lines_go_when_the_budget_is_spent() {
        let s = LogStore::new(3 * (10 + 32));
        for n in 0..5 {
            s.push(line(0, n, &format!("line-{n:04}")));
        }
        let texts: Vec<String> = s.read(None, None).into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["line-0002", "line-0003", "line-0004"]);
    }

    #[test]
    fn filters_by_time_and_instance() {
        let s = LogStore::new(DEFAULT_BUDGET_BYTES);
        s.push(line(0, 10, "a"));
        s.push(line(1, 20, "b"));
        s.push(line(0, 30, "c"));
        let got: Vec<String> =
            s.read(Some(Timestamp(15)), Some(0)).into_iter().map(|l| l.text).collect();
        assert_eq!(got, ["c"]);
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        s.push(line(2, 40, &long));
        assert!(s.read(None, Some(2))[0].text.ends_with("…[line cut]"));
    }
}
