//! Remote write, both ways.
//!
//! Receiving: `POST /prometheus/api/v1/write` takes a snappy-compressed
//! protobuf `WriteRequest` (remote write 1.0) and answers 204 once every
//! sample is committed to the TSDB's write-ahead log; rejected samples (out
//! of order, duplicates) are reported with 400, which senders do not retry.
//!
//! Sending: every sample andon stores from a scrape or a remote write is
//! queued for each configured endpoint; a shard batches up to
//! `MAX_BATCH` samples or `FLUSH_AFTER`, compresses and posts them, retrying
//! connection failures, 5xx and 429 with exponential backoff (100 ms doubling
//! to 30 s). The queue is bounded in memory (`QUEUE_CAPACITY` samples); when
//! an endpoint stays down long enough to fill it, the oldest samples are
//! dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_remote::{TimeSeries, WriteRequest};
use andon_series::{Labels, Sample};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

pub const MAX_BATCH: usize = 2000;
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);
pub const QUEUE_CAPACITY: usize = 500_000;

/// Counters of one endpoint.
#[derive(Debug, Default)]
pub struct SenderStats {
    pub sent: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub dropped: AtomicU64,
    pub rejected: AtomicU64,
}

/// Queues samples for one remote-write endpoint.
pub struct Sender {
    pub url: String,
    queue: Mutex<VecDeque<(Labels, Sample)>>,
    wake: Notify,
    pub stats: SenderStats,
}

impl Sender {
    /// Starts the sending task for `url`.
    pub fn start(url: String) -> Arc<Sender> {
        let s = Arc::new(Sender {
            url,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            stats: SenderStats::default(),
        });
        tokio::spawn(run(s.clone()));
        s
    }

    /// Queues samples (never blocks; drops the oldest when full).
    pub fn enqueue(&self, samples: &[(Labels, i64, f64)]) {
        if samples.is_empty() {
            return;
        }
        if let Ok(mut q) = self.queue.lock() {
            for (l, t, v) in samples {
                if q.len() >= QUEUE_CAPACITY {
                    q.pop_front();
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                q.push_back((l.clone(), Sample { t: *t, v: *v }));
            }
            if q.len() >= MAX_BATCH {
                self.wake.notify_one();
            }
        }
    }

    /// Samples waiting to be sent.
    pub fn pending(&self) -> usize {
        self.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    fn take_batch(&self) -> Vec<(Labels, Sample)> {
        match self.queue.lock() {
            Ok(mut q) => {
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

fn request(batch: &[(Labels, Sample)]) -> WriteRequest {
    // One TimeSeries per label set, samples in arrival order.
    let mut series: Vec<TimeSeries> = Vec::new();
    let mut index: std::collections::HashMap<&Labels, usize> = std::collections::HashMap::new();
    for (l, s) in batch {
        let i = *index.entry(l).or_insert_with(|| {
            series.push(TimeSeries {
                labels: l.clone(),
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms_skipped: 0,
            });
            series.len() - 1
        });
        series[i].samples.push(*s);
    }
    WriteRequest { timeseries: series, metadata: Vec::new() }
}

async fn run(s: Arc<Sender>) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        if s.pending() < MAX_BATCH {
            let _ = tokio::time::timeout(FLUSH_AFTER, s.wake.notified()).await;
        }
        let batch = s.take_batch();
        if batch.is_empty() {
            continue;
        }
        let body = Bytes::from(andon_remote::encode_snappy(&request(&batch)));
        let mut backoff = Duration::from_millis(100);
        loop {
            match post(&client, &s.url, body.clone()).await {
                Ok(()) => {
                    s.stats.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
                Err(Retry::No(msg)) => {
                    tracing::warn!(url = %s.url, error = %msg, samples = batch.len(), "remote write rejected a batch");
                    s.stats.rejected.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
                Err(Retry::Yes(msg)) => {
                    s.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(url = %s.url, error = %msg, ?backoff, "remote write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

enum Retry {
    Yes(String),
    No(String),
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    body: Bytes,
) -> Result<(), Retry> {
    let req = hyper::Request::post(url)
        .header("content-type", andon_remote::CONTENT_TYPE)
        .header("content-encoding", andon_remote::CONTENT_ENCODING)
        .header(andon_remote::VERSION_HEADER, andon_remote::VERSION)
        .header("user-agent", concat!("andon/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(body))
        .map_err(|e| Retry::No(e.to_string()))?;
    let resp = match tokio::time::timeout(Duration::from_secs(30), client.request(req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(Retry::Yes(e.to_string())),
        Err(_) => return Err(Retry::Yes("timed out".into())),
    };
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let msg = format!("{status}: {}", String::from_utf8_lossy(&text[..text.len().min(300)]).trim());
    if status.is_success() {
        Ok(())
    } else if status.is_server_error() || status.as_u16() == 429 {
        Err(Retry::Yes(msg))
    } else {
        Err(Retry::No(msg))
    }
}

/// Samples as stored: labels, Unix ms, value.
pub type Batch = Vec<(Labels, i64, f64)>;

/// Decodes a remote-write body into samples and the number of native
/// histograms it carried (which are not stored).
pub fn decode_body(body: &[u8]) -> Result<(Batch, usize), String> {
    let req = andon_remote::decode_snappy(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut histograms = 0;
    for ts in req.timeseries {
        histograms += ts.histograms_skipped;
        if ts.labels.metric_name().is_none() {
            return Err(format!("series {} has no metric name", ts.labels));
        }
        for s in ts.samples {
            out.push((ts.labels.clone(), s.t, s.v));
        }
    }
    Ok((out, histograms))
}
