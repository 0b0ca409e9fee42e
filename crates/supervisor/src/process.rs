//! Starting and stopping one OS process: its own process group, death with andon
//! (`PR_SET_PDEATHSIG`), resource limits, and stop = SIGTERM to the group, a grace
//! period, then SIGKILL. The only module with `unsafe` (the `pre_exec` hook and signals).
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// CPU limit in thousandths of a core, from `resources.limits.cpu`: enforced with a
    /// control group's CPU quota where one can be created.
    pub cpu_limit_millis: Option<u64>,
}

/// The control group holding a process under a CPU quota; removed when dropped (which
/// works once its processes are gone).
#[derive(Debug)]
pub struct CpuGroup {
    pub dir: PathBuf,
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// This process's own place in a cgroup hierarchy: the path after `prefix` on the
/// matching line of `/proc/self/cgroup` (`0::` for v2, `N:…cpu…:` for v1).
fn own_cgroup(v2: bool) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit =
            if v2 { controllers.is_empty() } else { controllers.split(',').any(|c| c == "cpu") };
        hit.then(|| path.trim_start_matches('/').to_string())
    })
}

/// Where andon's own control group is in the v2 (unified) or v1 cpu hierarchy: the
/// directories under which it may create groups.
fn cgroup_parents(v2: bool) -> Vec<PathBuf> {
    let roots: &[&str] = if v2 {
        &["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
    } else {
        &["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]
    };
    own_cgroup(v2)
        .map_or_else(Vec::new, |own| roots.iter().map(|r| PathBuf::from(r).join(&own)).collect())
}

/// Removes the CPU-quota groups a previous andon left (named after its pid, which no
/// longer runs), once they are empty.
pub fn sweep_cpu_groups() {
    let parents = [cgroup_parents(true), cgroup_parents(false)].concat();
    for parent in parents {
        let Ok(rd) = std::fs::read_dir(&parent) else { continue };
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix("andon-").and_then(|r| r.split('-').next()) else {
                continue;
            };
            if pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
}

/// Creates a control group with a CPU quota of `millis` thousandths of a core: cgroup
/// v2 (`cpu.max`) when its cpu controller can be enabled, else cgroup v1 (`cpu.cfs_quota_us`).
/// `None` when neither is writable here.
pub fn cpu_group(millis: u64) -> Option<CpuGroup> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("andon-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let period: u64 = 100_000;
    let quota = (millis * period / 1000).max(1000);
    // cgroup v2: the unified hierarchy, if the cpu controller can be delegated to us.
    for base in cgroup_parents(true) {
        let controllers =
            std::fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "cpu") {
            continue;
        }
        let _ = std::fs::write(base.join("cgroup.subtree_control"), "+cpu");
        let dir = base.join(&name);
        if std::fs::create_dir(&dir).is_ok() {
            let group = CpuGroup { dir };
            if std::fs::write(group.dir.join("cpu.max"), format!("{quota} {period}")).is_ok() {
                return Some(group);
            }
        }
    }
    // cgroup v1: the cpu hierarchy.
    for parent in cgroup_parents(false) {
        let dir = parent.join(&name);
        if std::fs::create_dir(&dir).is_err() {
            continue;
        }
        let group = CpuGroup { dir };
        let ok = std::fs::write(group.dir.join("cpu.cfs_period_us"), period.to_string()).is_ok()
            && std::fs::write(group.dir.join("cpu.cfs_quota_us"), quota.to_string()).is_ok();
        if ok {
            return Some(group);
        }
    }
    None
}

/// Starts the process with piped stdout/stderr, in a new process group, set to be killed
/// if andon dies.
pub fn spawn(l: &Launch) -> std::io::Result<Child> {
    spawn_limited(l).map(|(c, _)| c)
}

/// [`spawn`], with the CPU limit's control group (to keep until the process is gone;
/// `None` when there is no limit or no writable cgroup).
pub fn spawn_limited(l: &Launch) -> std::io::Result<(Child, Option<CpuGroup>)> {
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
    let group = l.cpu_limit_millis.filter(|m| *m > 0).and_then(cpu_group);
    // The file the child writes itself into (prepared here: nothing may allocate after fork).
    let procs = group.as_ref().and_then(|g| {
        let file = if g.dir.join("cgroup.procs").exists() { "cgroup.procs" } else { "tasks" };
        std::ffi::CString::new(g.dir.join(file).as_os_str().as_encoded_bytes()).ok()
    });
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
            if let Some(path) = &procs {
                // Join the CPU quota's group ("0": the writing process); best effort.
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    let _ = libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
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
    cmd.spawn().map(|c| (c, group))
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
