//! Jobs in a container (`container:`), through a local Podman or Docker engine: the
//! job's container is started with the workspace and the temporary directory mounted,
//! and each `run:` step is `ENGINE exec` of the step's shell in it. The built-in actions
//! (checkout, artifacts, cache) work on the host side of the same directories.
//!
//! A container never outlives its job, nor andon: its main process reads a FIFO whose
//! only writer is andon, so it ends (and `--rm` removes it) when andon's end of the
//! FIFO closes — when the job ends, or when andon dies, `kill -9` included. Containers
//! named after a dead andon are also removed when the next one starts its first
//! container ([`sweep`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use andon_expr::Value;

/// Where the job's directories are inside the container (GitHub's `/__w`).
pub const WORK: &str = "/__w/workspace";
pub const TEMP: &str = "/__w/_temp";

/// How a step reaches the job's container.
#[derive(Clone, Debug)]
pub struct Exec {
    pub engine: String,
    pub name: String,
    /// Host directory → its path in the container.
    pub mounts: Vec<(PathBuf, String)>,
    /// Whether the image has bash (the default shell), else `sh`.
    pub has_bash: bool,
}

impl Exec {
    /// A host path (or text starting with one) as the container sees it.
    pub fn path_in(&self, host: &str) -> String {
        for (h, c) in &self.mounts {
            let h = h.display().to_string();
            if let Some(rest) = host.strip_prefix(&h)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return format!("{c}{rest}");
            }
        }
        host.to_string()
    }

    /// The engine's command line that runs `argv` in the container in `dir`, with `env`
    /// passed by name (the values go in the engine client's environment, never in its
    /// arguments, so they do not show in the process list).
    pub fn command(
        &self,
        dir: &str,
        env: &BTreeMap<String, String>,
        argv: &[String],
    ) -> Vec<String> {
        let mut out = vec![self.engine.clone(), "exec".into(), "-w".into(), dir.to_string()];
        for k in env.keys() {
            out.push("-e".into());
            out.push(k.clone());
        }
        out.push(self.name.clone());
        out.extend(argv.iter().cloned());
        out
    }
}

/// The container engine to use: `ANDON_CONTAINER_ENGINE`, else Podman, else Docker, when
/// it answers (`ENGINE info`); the error says why none can be used.
fn engine() -> Result<String, String> {
    static ENGINE: OnceLock<Result<String, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let wanted = std::env::var("ANDON_CONTAINER_ENGINE").ok().filter(|e| !e.is_empty());
            let candidates: Vec<String> = match wanted {
                Some(e) => vec![e],
                None => vec!["podman".into(), "docker".into()],
            };
            let installed: Vec<&String> = candidates
                .iter()
                .filter(|c| crate::step::which(c, &[]).is_some() || Path::new(c).is_file())
                .collect();
            if installed.is_empty() {
                return Err(format!(
                    "needs a container engine: {} is not installed here",
                    candidates.join(" or ")
                ));
            }
            let mut why = Vec::new();
            for e in installed {
                let out = std::process::Command::new(e)
                    .arg("info")
                    .stdin(std::process::Stdio::null())
                    .output();
                match out {
                    Ok(o) if o.status.success() => return Ok(e.clone()),
                    Ok(o) => {
                        let err = String::from_utf8_lossy(&o.stderr);
                        why.push(format!(
                            "{e}: {}",
                            err.trim().lines().last().unwrap_or("does not answer")
                        ));
                    }
                    Err(err) => why.push(format!("{e}: {err}")),
                }
            }
            Err(format!("needs a container engine, and none answers ({})", why.join("; ")))
        })
        .clone()
}

/// [`engine`], asked off the async threads (the first call runs `ENGINE info`).
pub async fn find_engine() -> Result<String, String> {
    tokio::task::spawn_blocking(engine)
        .await
        .unwrap_or_else(|e| Err(format!("container engine probe: {e}")))
}

async fn engine_run(engine: &str, args: &[String]) -> Result<String, String> {
    let out = tokio::process::Command::new(engine)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{engine}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{engine} {}: {}",
            args.first().map_or("", String::as_str),
            err.trim().lines().last().unwrap_or("failed")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// What `container:` says: the image and the container's settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub image: String,
    pub env: Vec<(String, String)>,
    pub options: Vec<String>,
    pub volumes: Vec<String>,
    pub ports: Vec<String>,
}

/// Reads `container:` as evaluated: a string (the image) or a mapping.
pub fn spec_of(v: &Value) -> Result<Spec, String> {
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(a)) => a.items.iter().map(Value::to_display).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.to_display()],
        }
    };
    match v {
        Value::String(s) => Ok(Spec { image: s.to_string(), ..Spec::default() }),
        Value::Object(o) => {
            if o.get("credentials").is_some() {
                return Err("container.credentials: registry logins are not supported; log in with the engine beforehand".into());
            }
            let env = match o.get("env") {
                Some(Value::Object(e)) => {
                    e.iter().map(|(k, v)| (k.to_string(), v.to_display())).collect()
                }
                _ => Vec::new(),
            };
            Ok(Spec {
                image: o.get("image").map(Value::to_display).unwrap_or_default(),
                env,
                options: o
                    .get("options")
                    .map(|v| v.to_display().split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                volumes: list(o.get("volumes")),
                ports: list(o.get("ports")),
            })
        }
        other => {
            Err(format!("container: expected an image or a mapping, found {}", other.to_display()))
        }
    }
}

/// The job's running container.
pub struct Container {
    pub exec: Exec,
    /// andon's end of the container's lifeline.
    _lifeline: std::fs::File,
}

fn owner_prefix() -> String {
    format!("andon-{}-", std::process::id())
}

/// Starts the job's container (`name` unique in this andon), with the workspace and
/// temporary directory mounted.
pub async fn start(
    engine: &str,
    spec: &Spec,
    name: &str,
    workspace: &Path,
    temp: &Path,
) -> Result<Container, String> {
    // The first container of this andon clears what a dead one may have left.
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SWEPT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        sweep().await;
    }
    let fifo = temp.join("_lifeline");
    let _ = std::fs::remove_file(&fifo);
    let made = tokio::process::Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&fifo)
        .status()
        .await
        .map_err(|e| format!("mkfifo: {e}"))?;
    if !made.success() {
        return Err(format!("mkfifo {}: failed", fifo.display()));
    }
    // Read and write: opening does not wait for a reader, and andon stays a writer.
    let lifeline = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .map_err(|e| format!("{}: {e}", fifo.display()))?;
    let full = format!("{}{name}", owner_prefix());
    let mounts =
        vec![(workspace.to_path_buf(), WORK.to_string()), (temp.to_path_buf(), TEMP.to_string())];
    let mut args: Vec<String> =
        vec!["run".into(), "-d".into(), "--rm".into(), "--name".into(), full.clone()];
    for (h, c) in &mounts {
        args.push("-v".into());
        args.push(format!("{}:{c}", h.display()));
    }
    for v in &spec.volumes {
        args.push("-v".into());
        args.push(v.clone());
    }
    for p in &spec.ports {
        args.push("-p".into());
        args.push(p.clone());
    }
    for (k, v) in &spec.env {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    args.extend(["-w".into(), WORK.into(), "--entrypoint".into(), "sh".into()]);
    args.extend(spec.options.iter().cloned());
    args.push(spec.image.clone());
    args.extend(["-c".into(), "cat \"$0\" >/dev/null".into(), format!("{TEMP}/_lifeline")]);
    engine_run(engine, &args).await?;
    let has_bash = engine_run(
        engine,
        &["exec".into(), full.clone(), "sh".into(), "-c".into(), "command -v bash".into()],
    )
    .await
    .is_ok_and(|o| !o.is_empty());
    Ok(Container {
        exec: Exec { engine: engine.to_string(), name: full, mounts, has_bash },
        _lifeline: lifeline,
    })
}

impl Container {
    /// Stops and removes the container.
    pub async fn stop(self) {
        let _ = engine_run(
            &self.exec.engine,
            &["rm".into(), "-f".into(), "-t".into(), "2".into(), self.exec.name.clone()],
        )
        .await;
    }
}

/// Removes containers a dead andon left (named `andon-PID-…` for a PID that is gone).
pub async fn sweep() {
    let Ok(engine) = find_engine().await else { return };
    let Ok(names) =
        engine_run(&engine, &["ps".into(), "-a".into(), "--format".into(), "{{.Names}}".into()])
            .await
    else {
        return;
    };
    for n in names.lines() {
        let Some(pid) = n
            .strip_prefix("andon-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = engine_run(&engine, &["rm".into(), "-f".into(), n.to_string()]).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn container_specs_and_paths() {
        assert_eq!(spec_of(&Value::from("alpine:3")).unwrap().image, "alpine:3");
        let v = andon_expr::parse_json(
            r#"{"image": "node:20", "env": {"A": "1"}, "options": "--cpus 1 --memory 1g",
                "volumes": ["/data:/data"], "ports": [8080]}"#,
        )
        .unwrap();
        let s = spec_of(&v).unwrap();
        assert_eq!(s.env, vec![("A".to_string(), "1".to_string())]);
        assert_eq!(s.options, ["--cpus", "1", "--memory", "1g"]);
        assert_eq!(
            (s.volumes.as_slice(), s.ports.as_slice()),
            (&["/data:/data".to_string()][..], &["8080".to_string()][..])
        );
        let creds =
            andon_expr::parse_json(r#"{"image": "x", "credentials": {"username": "u"}}"#).unwrap();
        assert!(spec_of(&creds).unwrap_err().contains("not supported"));
        let e = Exec {
            engine: "podman".into(),
            name: "andon-1-x".into(),
            mounts: vec![
                (PathBuf::from("/tmp/run/ws"), WORK.into()),
                (PathBuf::from("/tmp/run/t"), TEMP.into()),
            ],
            has_bash: false,
        };
        assert_eq!(e.path_in("/tmp/run/ws/src"), "/__w/workspace/src");
        assert_eq!(e.path_in("/tmp/run/t"), "/__w/_temp");
        assert_eq!(e.path_in("/tmp/run/wsx"), "/tmp/run/wsx");
        let env = BTreeMap::from([("SECRET".to_string(), "hunter2".to_string())]);
        let cmd = e.command(
            "/__w/workspace",
            &env,
            &["sh".into(), "-e".into(), "/__w/_temp/s.sh".into()],
        );
        assert_eq!(
            cmd.join(" "),
            "podman exec -w /__w/workspace -e SECRET andon-1-x sh -e /__w/_temp/s.sh"
        );
    }
}
