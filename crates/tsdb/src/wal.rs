//! The write-ahead log in `DIR/wal/`: numbered segment files (`00000001`,
//! `00000002`, ...) of framed records (see [`crate::record`]) plus at most one
//! checkpoint, `checkpoint.N`, holding the head's content at the moment
//! segment `N` was started.
//!
//! Each commit is appended with one `write(2)` before it becomes visible, so a
//! process crash never loses an acknowledged commit; with `fsync` the segment
//! is also synced. A new segment starts when the current one would grow past
//! the size limit. After head data moves into a block, the log is rotated, a
//! checkpoint of what the head still holds is written (to a temporary name,
//! synced, then renamed) and every older segment and checkpoint is deleted.
//!
//! Replay reads the newest checkpoint, then every segment from its number on.
//! A partial or corrupt record ends a file: a segment is truncated there (with
//! a warning naming the file and offset) and replay goes on with the next
//! segment; opening never fails because of the log's content.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, io_err};
use crate::record::{self, Frame, Record};

const CHECKPOINT_PREFIX: &str = "checkpoint.";

pub struct Wal {
    dir: PathBuf,
    segment_size: u64,
    fsync: bool,
    file: File,
    seg: u64,
    len: u64,
    /// A failed write could not be rolled back: start a new segment first.
    broken: bool,
}

fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

fn checkpoint_name(n: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{n:08}")
}

fn parse_number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Syncs a directory so that renames and new files in it survive power loss.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err("syncing directory", dir))
}

/// Bytes used by the log's files.
pub fn disk_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Feeds every valid record of `data` to `apply`; returns the offset of the
/// first bad frame and why it is bad.
fn replay_file(data: &[u8], apply: &mut dyn FnMut(Record)) -> Option<(usize, &'static str)> {
    let mut pos = 0;
    loop {
        match record::next_frame(data, pos) {
            Frame::End => return None,
            Frame::Bad(why) => return Some((pos, why)),
            Frame::Ok(payload, next) => match record::decode(payload) {
                Ok(rec) => {
                    apply(rec);
                    pos = next;
                }
                Err(e) => return Some((pos, e.0)),
            },
        }
    }
}

impl Wal {
    /// Opens the log in `dir`, replaying it into `apply` first.
    pub fn open(
        dir: &Path,
        segment_size: u64,
        fsync: bool,
        apply: &mut dyn FnMut(Record),
    ) -> Result<Wal, Error> {
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        let mut segments = Vec::new();
        let mut checkpoints = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("listing", dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                let path = entry.path();
                tracing::info!(file = %path.display(), "removing an unfinished WAL checkpoint");
                fs::remove_file(&path).map_err(io_err("removing", &path))?;
            } else if let Some(n) = parse_number(&name) {
                segments.push(n);
            } else if let Some(n) = name.strip_prefix(CHECKPOINT_PREFIX).and_then(parse_number) {
                checkpoints.push(n);
            }
        }
        segments.sort_unstable();
        checkpoints.sort_unstable();

        let first = checkpoints.last().copied().unwrap_or(0);
        for &n in checkpoints.iter().filter(|&&n| n < first) {
            let path = dir.join(checkpoint_name(n));
            fs::remove_file(&path).map_err(io_err("removing", &path))?;
        }
        for &n in segments.iter().filter(|&&n| n < first) {
            let path = dir.join(segment_name(n));
            fs::remove_file(&path).map_err(io_err("removing", &path))?;
        }
        segments.retain(|&n| n >= first);

        if let Some(&n) = checkpoints.last() {
            let path = dir.join(checkpoint_name(n));
            let data = fs::read(&path).map_err(io_err("reading", &path))?;
            if let Some((offset, reason)) = replay_file(&data, apply) {
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    reason,
                    "WAL checkpoint is corrupt; ignoring the rest of it"
                );
            }
        }

        let mut expected = segments.first().copied();
        for &n in &segments {
            let path = dir.join(segment_name(n));
            if expected.is_some_and(|e| e != n) {
                tracing::warn!(file = %path.display(), "WAL segments are missing before this one");
            }
            expected = Some(n + 1);
            let data = fs::read(&path).map_err(io_err("reading", &path))?;
            if let Some((offset, reason)) = replay_file(&data, apply) {
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    reason,
                    dropped_bytes = data.len() - offset,
                    "truncating the WAL segment at a torn or corrupt record"
                );
                let f = File::options()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("opening WAL segment", &path))?;
                f.set_len(offset as u64).map_err(io_err("truncating WAL segment", &path))?;
                f.sync_all().map_err(io_err("syncing WAL segment", &path))?;
            }
        }

        let seg = segments.last().copied().unwrap_or(first.max(1));
        let path = dir.join(segment_name(seg));
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("opening WAL segment", &path))?;
        let len = file.metadata().map_err(io_err("reading metadata of", &path))?.len();
        if segments.is_empty() && fsync {
            sync_dir(dir)?;
        }
        Ok(Wal { dir: dir.to_path_buf(), segment_size, fsync, file, seg, len, broken: false })
    }

    fn segment_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.seg))
    }

    /// Appends encoded records with one write; syncs when configured.
    pub fn log(&mut self, buf: &[u8]) -> Result<(), Error> {
        if self.broken || (self.len > 0 && self.len + buf.len() as u64 > self.segment_size) {
            self.rotate()?;
        }
        let written = self
            .file
            .write_all(buf)
            .and_then(|()| if self.fsync { self.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            // Leave no partial record behind that would hide later ones.
            if self.file.set_len(self.len).is_err() {
                self.broken = true;
            }
            return Err(io_err("writing WAL segment", &self.segment_path())(e));
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Starts a new segment; returns its number.
    pub fn rotate(&mut self) -> Result<u64, Error> {
        if self.fsync {
            self.file.sync_all().map_err(io_err("syncing WAL segment", &self.segment_path()))?;
        }
        let n = self.seg + 1;
        let path = self.dir.join(segment_name(n));
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("creating WAL segment", &path))?;
        file.set_len(0).map_err(io_err("truncating WAL segment", &path))?;
        if self.fsync {
            sync_dir(&self.dir)?;
        }
        self.file = file;
        self.seg = n;
        self.len = 0;
        self.broken = false;
        Ok(n)
    }

    /// Writes checkpoint `n` (the head's content when segment `n` started),
    /// then deletes the segments and checkpoints it replaces.
    pub fn checkpoint(&mut self, n: u64, data: &[u8]) -> Result<(), Error> {
        let tmp = self.dir.join(format!("{}.tmp", checkpoint_name(n)));
        let path = self.dir.join(checkpoint_name(n));
        {
            let mut f = File::create(&tmp).map_err(io_err("creating", &tmp))?;
            f.write_all(data).map_err(io_err("writing", &tmp))?;
            f.sync_all().map_err(io_err("syncing", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err("renaming", &tmp))?;
        sync_dir(&self.dir)?;
        for entry in fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = match name.strip_prefix(CHECKPOINT_PREFIX).and_then(parse_number) {
                Some(c) => c < n,
                None => parse_number(&name).is_some_and(|s| s < n),
            };
            if old {
                let p = entry.path();
                fs::remove_file(&p).map_err(io_err("removing", &p))?;
            }
        }
        Ok(())
    }

    /// Flushes the current segment to stable storage.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.file.sync_all().map_err(io_err("syncing WAL segment", &self.segment_path()))
    }
}
