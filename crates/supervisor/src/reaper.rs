//! The reaper: a small helper process (andon's own binary, run as `andon __reap`) that
//! outlives andon only to kill what andon ran. andon tells it over a pipe which process
//! groups exist; when the pipe closes (andon exited, however it died), it kills every
//! group still listed, grandchildren included, and exits.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

use crate::process::{SIGKILL, signal_group};

/// The argument that makes andon's binary run [`main`].
pub const ARG: &str = "__reap";

/// andon's side of the pipe.
pub struct Reaper {
    stdin: Mutex<Option<ChildStdin>>,
    _child: Child,
}

impl Reaper {
    /// Starts `program __reap` in its own process group (so a terminal's Ctrl-C reaches
    /// andon, which stops services gracefully, and not the reaper).
    pub fn spawn(program: &std::path::Path) -> std::io::Result<Reaper> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(program)
            .arg(ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Reaper { stdin: Mutex::new(stdin), _child: child })
    }

    fn send(&self, line: &str) {
        if let Ok(mut g) = self.stdin.lock()
            && let Some(s) = g.as_mut()
            && s.write_all(line.as_bytes()).and_then(|()| s.flush()).is_err()
        {
            *g = None;
        }
    }

    pub fn watch(&self, pgid: u32) {
        self.send(&format!("+{pgid}\n"));
    }

    pub fn forget(&self, pgid: u32) {
        self.send(&format!("-{pgid}\n"));
    }
}

/// The reaper process: reads `+PGID`/`-PGID` lines until end of input, then kills every
/// group still listed. Returns the process exit code.
pub fn main() -> i32 {
    // Signals aimed at andon's terminal or session must not end the reaper early.
    // SAFETY: setting a signal disposition to SIG_IGN has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut groups = BTreeSet::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (op, n) = line.split_at(line.len().min(1));
        let Ok(pgid) = n.trim().parse::<u32>() else { continue };
        match op {
            "+" => {
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        signal_group(pgid, SIGKILL);
    }
    0
}
