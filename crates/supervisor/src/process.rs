//! Starting and stopping one OS process: its own process group, death with andon
//! (`PR_SET_PDEATHSIG`), resource limits, and stop = SIGTERM to the group, a grace
//! period, then SIGKILL. The only module with `unsafe` (the `pre_exec` hook and signals).
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// What to run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<PathBuf>,
    /// Directories put first on the child's PATH (andon's own directory, so siblings resolve).
    pub path_prepend: Vec<PathBuf>,
    /// Address-space limit in bytes (`RLIMIT_AS`), from `resources.limits.memory`.
    pub memory_limit: Option<u64>,
}

/// Starts the process with piped stdout/stderr, in a new process group, set to be killed
/// if andon dies.
pub fn spawn(l: &Launch) -> std::io::Result<Child> {
    let program = resolve(&l.program, &l.path_prepend);
    let mut cmd = Command::new(&program);
    cmd.args(&l.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    let mut path: Vec<PathBuf> = l.path_prepend.clone();
    if let Some(p) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&p));
    }
    if let Ok(joined) = std::env::join_paths(path) {
        cmd.env("PATH", joined);
    }
    for (k, v) in &l.env {
        cmd.env(k, v);
    }
    if let Some(dir) = &l.working_dir {
        cmd.current_dir(dir);
    }
    let parent = std::process::id() as libc::pid_t;
    let memory_limit = l.memory_limit;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (setpgid, prctl, getppid, setrlimit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // andon may have died between fork and prctl: then do not run at all.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("andon exited while starting the process"));
            }
            if let Some(bytes) = memory_limit {
                let lim = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Finds `program` in `dirs` first (so `andon-demo` next to andon wins), else leaves it to PATH.
fn resolve(program: &str, dirs: &[PathBuf]) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    dirs.iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// Sends `signal` to the whole process group led by `pgid`.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else { return false };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGKILL: i32 = libc::SIGKILL;

/// Stops a child: SIGTERM to its group, up to `grace` to exit, then SIGKILL to the group.
/// Returns how it ended.
pub async fn stop(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    let Some(pid) = child.id() else {
        return child.wait().await.ok();
    };
    signal_group(pid, SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => {
            // Leftover members of the group (its own children) go too.
            signal_group(pid, SIGKILL);
            status.ok()
        }
        Err(_) => {
            signal_group(pid, SIGKILL);
            child.wait().await.ok()
        }
    }
}

/// How a process ended, in Kubernetes' words: (reason, exit code, signal).
pub fn termination(status: &std::process::ExitStatus) -> (String, Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => ("Completed".into(), Some(0), None),
        (Some(c), _) => ("Error".into(), Some(c), None),
        (None, Some(9)) => ("Killed".into(), None, Some(9)),
        (None, Some(s)) => (format!("Signal {s}"), None, Some(s)),
        (None, None) => ("Unknown".into(), None, None),
    }
}

/// The start time of a process (field 22 of /proc/PID/stat), to tell a live process from a
/// recycled pid.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Asks the OS for a free port on loopback.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
