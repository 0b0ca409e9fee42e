//! Backfill: an OpenMetrics file becomes immutable blocks in a TSDB
//! directory, like `promtool tsdb create-blocks-from openmetrics`. The
//! samples are written into a scratch database beside the target, persisted
//! as blocks, and the blocks are moved in; the target picks them up when it
//! is next opened (blocks may overlap existing data; queries merge them).

use std::path::Path;

use andon_expo::{Entry, Format, Parser};
use andon_tsdb::{Options, Tsdb};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub samples: usize,
    pub series: usize,
    pub rejected: usize,
    pub blocks: usize,
    pub min_time: i64,
    pub max_time: i64,
}

/// Imports `input` (OpenMetrics text ending in `# EOF`) into the TSDB at
/// `dir`. Nothing is moved in unless the whole file parses.
pub fn openmetrics(dir: &Path, input: &[u8]) -> Result<ImportReport, String> {
    // Parse everything first: a bad line rejects the whole file.
    let mut samples = Vec::new();
    for entry in Parser::new(input, Format::OpenMetrics) {
        match entry.map_err(|e| e.to_string())? {
            Entry::Sample(s) => {
                let t = s.timestamp_ms.ok_or_else(|| {
                    format!("sample {} has no timestamp", s.labels.series_string())
                })?;
                samples.push((s.labels, t, s.value));
            }
            Entry::Family(_) => {}
        }
    }
    if samples.is_empty() {
        return Err("no samples in the input".into());
    }
    // Per series in time order, so every sample is in order for the head.
    samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = dir.join(format!(".import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let result = write_blocks(&scratch, &samples).and_then(|mut report| {
        for entry in std::fs::read_dir(&scratch).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name();
            let is_block = entry.path().join("meta.json").is_file();
            if is_block {
                std::fs::rename(entry.path(), dir.join(&name))
                    .map_err(|e| format!("moving block {name:?}: {e}"))?;
                report.blocks += 1;
            }
        }
        Ok(report)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn write_blocks(
    scratch: &Path,
    samples: &[(andon_series::Labels, i64, f64)],
) -> Result<ImportReport, String> {
    let db =
        Tsdb::open(scratch, Options { retention: std::time::Duration::ZERO, ..Options::default() })
            .map_err(|e| e.to_string())?;
    let mut report =
        ImportReport { min_time: i64::MAX, max_time: i64::MIN, ..ImportReport::default() };
    let mut last: Option<&andon_series::Labels> = None;
    for chunk in samples.chunks(50_000) {
        let mut app = db.appender();
        for (l, t, v) in chunk {
            if last != Some(l) {
                report.series += 1;
                last = Some(l);
            }
            app.append(l, *t, *v).map_err(|e| e.to_string())?;
            report.min_time = report.min_time.min(*t);
            report.max_time = report.max_time.max(*t);
        }
        let stats = app.commit().map_err(|e| e.to_string())?;
        report.samples += stats.appended;
        report.rejected += stats.rejected();
    }
    db.flush().map_err(|e| e.to_string())?;
    db.close().map_err(|e| e.to_string())?;
    Ok(report)
}
