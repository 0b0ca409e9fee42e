//! Running one `run:` step as a local process with GitHub's shell semantics: the
//! script written to a file, started as `bash -e {0}` by default (`sh -e {0}` without
//! bash), `shell: bash` adding `--noprofile --norc -o pipefail`, `sh`, `python`, or a
//! custom `program args {0}`; its own process group that dies with andon; fresh
//! `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_STATE` and
//! `GITHUB_STEP_SUMMARY` files read after it ends; every output line through the
//! workflow-command interpreter and the masker; long lines cut into pieces so
//! memory stays bounded; a timeout or a cancellation stops the whole group.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use andon_supervisor::process::{self, Launch};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::commands::{Effect, Interpreter};
use crate::files;
use crate::mask::Masker;

/// The helper that kills step process groups left behind if andon itself dies
/// (`andon __reap`); set once by the program that runs steps.
pub static REAPER: std::sync::OnceLock<andon_supervisor::reaper::Reaper> =
    std::sync::OnceLock::new();

/// The longest piece of a line passed on at once.
pub const MAX_LINE: usize = 64 * 1024;

/// How long a stopped step gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// A `run:` step ready to start.
#[derive(Clone, Debug, Default)]
pub struct Script {
    pub script: String,
    /// `shell:` as written (`None`: the default).
    pub shell: Option<String>,
    pub working_dir: PathBuf,
    pub env: BTreeMap<String, String>,
    /// Directories put first on PATH (from `GITHUB_PATH`).
    pub path_prepend: Vec<PathBuf>,
    pub timeout: Option<Duration>,
    /// The job's container, when the job runs in one.
    pub container: Option<crate::container::Exec>,
}

/// What a step printed or did, as it happens (already masked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Out(String),
    Err(String),
    GroupStart(String),
    GroupEnd,
    Annotation {
        level: String,
        message: String,
        file: Option<String>,
        line: Option<u64>,
    },
    Debug(String),
    /// A note from the runner itself (a refused command, a bad file command).
    Note(String),
}

/// How a step ended and what it set.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    /// The exit code; `None` when killed.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub outputs: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub paths: Vec<String>,
    pub state: Vec<(String, String)>,
    pub summary: Option<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }
}

/// Where `program` is: in `path_prepend` first (`GITHUB_PATH` additions), then on PATH.
pub fn which(program: &str, path_prepend: &[PathBuf]) -> Option<PathBuf> {
    let system = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_prepend.iter().chain(system.iter()).map(|d| d.join(program)).find(|p| p.is_file())
}

fn on_path(program: &str) -> bool {
    which(program, &[]).is_some()
}

/// The command line for a `shell:` (the script file goes where `{0}` is) and the
/// script file's extension.
pub fn shell_command(shell: Option<&str>) -> Result<(Vec<String>, &'static str), String> {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Ok(match shell.map(str::trim) {
        None | Some("") => {
            if on_path("bash") {
                (v(&["bash", "-e", "{0}"]), ".sh")
            } else {
                (v(&["sh", "-e", "{0}"]), ".sh")
            }
        }
        Some("bash") => {
            (v(&["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "{0}"]), ".sh")
        }
        Some("sh") => (v(&["sh", "-e", "{0}"]), ".sh"),
        Some("python") => {
            let py = if on_path("python") { "python" } else { "python3" };
            (v(&[py, "{0}"]), ".py")
        }
        Some(s @ ("pwsh" | "powershell" | "cmd")) => {
            if !on_path(s) {
                return Err(format!("shell '{s}' is not available on this machine"));
            }
            match s {
                "cmd" => (v(&["cmd", "/D", "/E:ON", "/V:OFF", "/S", "/C", "CALL \"{0}\""]), ".cmd"),
                _ => (v(&[s, "-command", ". '{0}'"]), ".ps1"),
            }
        }
        Some(custom) => {
            let parts: Vec<String> = custom.split_whitespace().map(str::to_owned).collect();
            if !parts.iter().skip(1).any(|p| p.contains("{0}")) {
                return Err(format!(
                    "Invalid shell option. Shell path with arguments must include {{0}}: '{custom}'"
                ));
            }
            (parts, "")
        }
    })
}

/// Reads a stream as lines, pieces of at most [`MAX_LINE`] bytes, passed on in
/// batches (one per read) so a step printing fast is not slowed by the hand-over.
async fn read_lines<R: AsyncRead + Unpin>(
    mut r: R,
    tx: tokio::sync::mpsc::Sender<(bool, Vec<String>)>,
    stdout: bool,
) {
    let mut buf = Vec::with_capacity(128 * 1024);
    let mut chunk = vec![0u8; 128 * 1024];
    loop {
        let n = match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(p) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + p];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            for piece in line.chunks(MAX_LINE) {
                lines.push(String::from_utf8_lossy(piece).into_owned());
            }
            if line.is_empty() {
                lines.push(String::new());
            }
            start += p + 1;
        }
        buf.drain(..start);
        while buf.len() >= MAX_LINE {
            let piece: Vec<u8> = buf.drain(..MAX_LINE).collect();
            lines.push(String::from_utf8_lossy(&piece).into_owned());
        }
        if !lines.is_empty() && tx.send((stdout, lines)).await.is_err() {
            return;
        }
    }
    if !buf.is_empty() {
        let _ = tx.send((stdout, vec![String::from_utf8_lossy(&buf).into_owned()])).await;
    }
}

/// Runs a script. `temp` is the job's directory for scripts and command files;
/// `cancel` turning true stops the step.
pub async fn run(
    step: &Script,
    temp: &Path,
    masker: &mut Masker,
    mut cancel: tokio::sync::watch::Receiver<bool>,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Finished, String> {
    let (mut cmdline, ext) = shell_command(step.shell.as_deref())?;
    // The default shell in a container is the image's bash, else its sh.
    if let Some(c) = &step.container
        && step.shell.as_deref().is_none_or(|s| s.trim().is_empty())
    {
        cmdline = vec![if c.has_bash { "bash" } else { "sh" }.into(), "-e".into(), "{0}".into()];
    }
    std::fs::create_dir_all(temp).map_err(|e| format!("{}: {e}", temp.display()))?;
    let id = unique_id();
    let script_path = temp.join(format!("{id}{ext}"));
    let body =
        if ext == ".cmd" { format!("@echo off\r\n{}", step.script) } else { step.script.clone() };
    std::fs::write(&script_path, body).map_err(|e| format!("{}: {e}", script_path.display()))?;
    let file = |prefix: &str| -> Result<PathBuf, String> {
        let p = temp.join(format!("{prefix}{id}"));
        std::fs::write(&p, "").map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    };
    let (out_f, env_f, path_f, state_f, summary_f) = (
        file("set_output_")?,
        file("set_env_")?,
        file("add_path_")?,
        file("save_state_")?,
        file("step_summary_")?,
    );
    let mut env = step.env.clone();
    for (k, p) in [
        ("GITHUB_OUTPUT", &out_f),
        ("GITHUB_ENV", &env_f),
        ("GITHUB_PATH", &path_f),
        ("GITHUB_STATE", &state_f),
        ("GITHUB_STEP_SUMMARY", &summary_f),
    ] {
        env.insert(k.to_string(), p.display().to_string());
    }
    let allow_unsecure = env.get("ACTIONS_ALLOW_UNSECURE_COMMANDS").is_some_and(|v| v == "true");
    let launch = match &step.container {
        None => Launch {
            program: cmdline[0].clone(),
            args: cmdline[1..]
                .iter()
                .map(|a| a.replace("{0}", &script_path.display().to_string()))
                .collect(),
            env,
            working_dir: Some(step.working_dir.clone()),
            path_prepend: step.path_prepend.clone(),
            memory_limit: None,
            cpu_limit_millis: None,
        },
        Some(c) => {
            // Paths as the container sees them; GITHUB_PATH's directories before the
            // image's usual PATH.
            let mut env: BTreeMap<String, String> =
                env.into_iter().map(|(k, v)| (k, c.path_in(&v))).collect();
            if !step.path_prepend.is_empty() {
                let mut dirs: Vec<String> =
                    step.path_prepend.iter().map(|p| c.path_in(&p.display().to_string())).collect();
                dirs.push("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
                env.insert("PATH".into(), dirs.join(":"));
            }
            let script = c.path_in(&script_path.display().to_string());
            let argv: Vec<String> = cmdline.iter().map(|a| a.replace("{0}", &script)).collect();
            let full = c.command(&c.path_in(&step.working_dir.display().to_string()), &env, &argv);
            Launch {
                program: full[0].clone(),
                args: full[1..].to_vec(),
                env,
                working_dir: Some(temp.to_path_buf()),
                path_prepend: Vec::new(),
                memory_limit: None,
                cpu_limit_millis: None,
            }
        }
    };
    let mut child = process::spawn(&launch).map_err(|e| format!("{}: {e}", launch.program))?;
    if let (Some(r), Some(pid)) = (REAPER.get(), child.id()) {
        r.watch(pid);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    if let Some(o) = child.stdout.take() {
        tokio::spawn(read_lines(o, tx.clone(), true));
    }
    if let Some(e) = child.stderr.take() {
        tokio::spawn(read_lines(e, tx.clone(), false));
    }
    drop(tx);
    let mut interp = Interpreter::new(allow_unsecure);
    let mut done = Finished::default();
    let pid = child.id();
    let deadline = step.timeout.map(|t| tokio::time::Instant::now() + t);
    let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    let timeout = tokio::time::sleep_until(deadline.unwrap_or(far));
    tokio::pin!(timeout);
    // After the process exits, what it left running may hold the pipes open: its
    // output is read for a moment more, then the group goes.
    let drain = tokio::time::sleep_until(far);
    tokio::pin!(drain);
    let (mut open, mut exited) = (true, false);
    while open || !exited {
        tokio::select! {
            batch = rx.recv(), if open => match batch {
                Some((stdout, lines)) => {
                    for text in &lines {
                        handle(&mut interp, masker, &mut done, stdout, text, on_event);
                    }
                }
                None => open = false,
            },
            status = child.wait(), if !exited => {
                done.code = status.ok().and_then(|s| s.code());
                exited = true;
                drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
            }
            _ = &mut drain, if exited && open => break,
            _ = &mut timeout, if !exited => {
                done.timed_out = true;
                process::stop(&mut child, GRACE).await;
                exited = true;
                drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(200));
            }
            changed = cancel.changed(), if !exited => {
                if changed.is_err() || *cancel.borrow() {
                    done.cancelled = true;
                    process::stop(&mut child, GRACE).await;
                    exited = true;
                    drain.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(200));
                }
            }
        }
    }
    if let Some(pid) = pid {
        process::signal_group(pid, process::SIGKILL);
        if let Some(r) = REAPER.get() {
            r.forget(pid);
        }
    }
    // Lines still buffered after a stop.
    while let Ok((stdout, lines)) = rx.try_recv() {
        for text in &lines {
            handle(&mut interp, masker, &mut done, stdout, text, on_event);
        }
    }
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut note = |r: Result<Vec<(String, String)>, String>, what: &str| match r {
        Ok(v) => v,
        Err(e) => {
            on_event(Event::Note(format!("{what}: {e}")));
            Vec::new()
        }
    };
    done.outputs.extend(note(files::read_pairs(&read(&out_f), false), "GITHUB_OUTPUT"));
    done.env.extend(note(files::read_pairs(&read(&env_f), true), "GITHUB_ENV"));
    done.state.extend(note(files::read_pairs(&read(&state_f), false), "GITHUB_STATE"));
    done.paths = files::read_paths(&read(&path_f));
    let summary = read(&summary_f);
    if !summary.is_empty() {
        match files::read_summary(&summary) {
            Ok(s) => done.summary = Some(masker.mask(s).into_owned()),
            Err(e) => on_event(Event::Note(e)),
        }
    }
    for p in [&script_path, &out_f, &env_f, &path_f, &state_f, &summary_f] {
        let _ = std::fs::remove_file(p);
    }
    Ok(done)
}

/// A name for a step's files, unique within this process and across runs.
fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}_{nanos:x}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn handle(
    interp: &mut Interpreter,
    masker: &mut Masker,
    done: &mut Finished,
    stdout: bool,
    text: &str,
    on_event: &mut (dyn FnMut(Event) + Send),
) {
    if !stdout {
        on_event(Event::Err(masker.mask(text).into_owned()));
        return;
    }
    match interp.line(text) {
        Effect::Print => on_event(Event::Out(masker.mask(text).into_owned())),
        Effect::Hidden => {}
        Effect::AddMask(v) => masker.add(&v),
        Effect::Debug(m) => on_event(Event::Debug(masker.mask(&m).into_owned())),
        Effect::GroupStart(t) => on_event(Event::GroupStart(masker.mask(&t).into_owned())),
        Effect::GroupEnd => on_event(Event::GroupEnd),
        Effect::Annotation { level, message, file, line, .. } => on_event(Event::Annotation {
            level,
            message: masker.mask(&message).into_owned(),
            file,
            line,
        }),
        Effect::SetOutput(k, v) => done.outputs.push((k, v)),
        Effect::SaveState(k, v) => done.state.push((k, v)),
        Effect::SetEnv(k, v) => done.env.push((k, v)),
        Effect::AddPath(p) => done.paths.push(p),
        Effect::Refused(why) => on_event(Event::Note(why)),
    }
}
