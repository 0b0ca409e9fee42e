//! What andon has running, written to the data dir on every start and exit, so that an
//! andon restarted after a crash can find and stop whatever its predecessor left.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::process::{SIGKILL, signal_group, start_ticks};

/// True when some process belongs to process group `pgid` (field 5 of /proc/PID/stat).
fn group_has_members(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return false };
    dir.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).any(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')')?.1.split_whitespace().nth(2)?.parse::<u32>().ok())
            == Some(pgid)
    })
}

/// One process group andon started: leader pid and its start time (to recognise it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub pid: u32,
    pub start_ticks: u64,
}

pub struct Records {
    path: Option<PathBuf>,
    live: Mutex<BTreeMap<u32, Record>>,
    reaper: Option<crate::reaper::Reaper>,
}

impl Records {
    /// `path` is `None` for a runtime that keeps no records (tests).
    pub fn new(path: Option<PathBuf>, reaper: Option<crate::reaper::Reaper>) -> Records {
        Records { path, live: Mutex::new(BTreeMap::new()), reaper }
    }

    pub fn add(&self, pid: u32) {
        if let Some(r) = &self.reaper {
            r.watch(pid);
        }
        let rec = Record { pid, start_ticks: start_ticks(pid).unwrap_or(0) };
        if let Ok(mut m) = self.live.lock() {
            m.insert(pid, rec);
            self.save(&m);
        }
    }

    pub fn remove(&self, pid: u32) {
        if let Some(r) = &self.reaper {
            r.forget(pid);
        }
        if let Ok(mut m) = self.live.lock() {
            m.remove(&pid);
            self.save(&m);
        }
    }

    /// Writes the set atomically (temp file + rename), so a crash leaves the old or the new.
    fn save(&self, m: &BTreeMap<u32, Record>) {
        let Some(path) = &self.path else { return };
        let list: Vec<&Record> = m.values().collect();
        let tmp = path.with_extension("tmp");
        let body = serde_json::to_vec(&list).unwrap_or_default();
        let written = std::fs::write(&tmp, body).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "cannot record running processes");
        }
    }

    /// Kills the process groups a previous andon recorded that are still alive; returns
    /// how many there were.
    pub fn reap_leftovers(&self) -> usize {
        let Some(path) = &self.path else { return 0 };
        let Ok(text) = std::fs::read(path) else { return 0 };
        let old: Vec<Record> = serde_json::from_slice(&text).unwrap_or_default();
        let mut reaped = 0;
        for r in old {
            let leader = start_ticks(r.pid);
            // The leader alive with the same start time is the very process andon started.
            // With the leader gone, the kernel does not reuse its pid while the group still
            // has members, so any member left is one of ours.
            let ours = match leader {
                Some(t) => r.start_ticks != 0 && t == r.start_ticks,
                None => group_has_members(r.pid),
            };
            if ours {
                signal_group(r.pid, SIGKILL);
                reaped += 1;
                tracing::warn!(pgid = r.pid, "stopped processes left running by a previous andon");
            }
        }
        let _ = std::fs::remove_file(path);
        reaped
    }
}
