//! Encoding and decoding of the `prometheus.WriteRequest` message tree:
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
//!                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }
//! Exemplar       { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2;
//!                  string help = 4; string unit = 5; }
//! ```
//!
//! Encoding writes fields in number order and leaves out proto3 defaults
//! (zero numbers, empty strings). Sizes of embedded messages are computed
//! before they are written, so the output is built in one buffer.

use andon_series::{Label, Labels, Sample};

use crate::wire::{
    Reader, Result, double_size, len_field_size, put_double, put_len_prefix, put_string,
    put_uint64, string_size, uint64_size,
};
use crate::{Exemplar, MetricKind, MetricMetadata, TimeSeries, WriteRequest};

// ---- encoding ----

fn label_size(l: &Label) -> usize {
    string_size(&l.name) + string_size(&l.value)
}

fn put_label(out: &mut Vec<u8>, number: u32, l: &Label) {
    put_len_prefix(out, number, label_size(l));
    put_string(out, 1, &l.name);
    put_string(out, 2, &l.value);
}

fn labels_size(labels: &Labels) -> usize {
    labels.iter().map(|l| len_field_size(label_size(l))).sum()
}

fn sample_size(s: &Sample) -> usize {
    double_size(s.v) + uint64_size(s.t as u64)
}

fn exemplar_size(e: &Exemplar) -> usize {
    labels_size(&e.labels) + double_size(e.value) + uint64_size(e.timestamp as u64)
}

fn series_size(ts: &TimeSeries) -> usize {
    labels_size(&ts.labels)
        + ts.samples.iter().map(|s| len_field_size(sample_size(s))).sum::<usize>()
        + ts.exemplars.iter().map(|e| len_field_size(exemplar_size(e))).sum::<usize>()
}

/// An enum's varint: int32 sign-extended to 64 bits, as protobuf writes it.
fn kind_wire(kind: MetricKind) -> u64 {
    i64::from(kind.to_wire()) as u64
}

fn metadata_size(m: &MetricMetadata) -> usize {
    uint64_size(kind_wire(m.kind))
        + string_size(&m.family)
        + string_size(&m.help)
        + string_size(&m.unit)
}

/// Encodes `req` as a protobuf `WriteRequest` (uncompressed).
///
/// Labels are written in the sorted order [`Labels`] keeps. Native
/// histograms are never written, whatever
/// [`TimeSeries::histograms_skipped`] says.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let sizes: Vec<usize> = req.timeseries.iter().map(series_size).collect();
    let total = sizes.iter().map(|&n| len_field_size(n)).sum::<usize>()
        + req.metadata.iter().map(|m| len_field_size(metadata_size(m))).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    for (ts, &size) in req.timeseries.iter().zip(&sizes) {
        put_len_prefix(&mut out, 1, size);
        for l in &ts.labels {
            put_label(&mut out, 1, l);
        }
        for s in &ts.samples {
            put_len_prefix(&mut out, 2, sample_size(s));
            put_double(&mut out, 1, s.v);
            put_uint64(&mut out, 2, s.t as u64);
        }
        for e in &ts.exemplars {
            put_len_prefix(&mut out, 3, exemplar_size(e));
            for l in &e.labels {
                put_label(&mut out, 1, l);
            }
            put_double(&mut out, 2, e.value);
            put_uint64(&mut out, 3, e.timestamp as u64);
        }
    }
    for m in &req.metadata {
        put_len_prefix(&mut out, 3, metadata_size(m));
        put_uint64(&mut out, 1, kind_wire(m.kind));
        put_string(&mut out, 2, &m.family);
        put_string(&mut out, 4, &m.help);
        put_string(&mut out, 5, &m.unit);
    }
    debug_assert_eq!(out.len(), total);
    out
}

// ---- decoding ----

/// Decodes a protobuf `WriteRequest` (uncompressed).
pub fn decode(buf: &[u8]) -> Result<WriteRequest> {
    let mut r = Reader::new(buf);
    let mut req = WriteRequest::default();
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            1 => {
                let at = format!("timeseries[{}]", req.timeseries.len());
                let series = r.message(wire).and_then(decode_series).map_err(|e| e.within(at))?;
                req.timeseries.push(series);
            }
            3 => {
                let at = format!("metadata[{}]", req.metadata.len());
                let meta = r.message(wire).and_then(decode_metadata).map_err(|e| e.within(at))?;
                req.metadata.push(meta);
            }
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    Ok(req)
}

fn decode_series(mut r: Reader<'_>) -> Result<TimeSeries> {
    let mut labels = Vec::new();
    let mut ts = TimeSeries::default();
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            1 => {
                let at = format!("labels[{}]", labels.len());
                let label = r.message(wire).and_then(decode_label).map_err(|e| e.within(at))?;
                labels.push(label);
            }
            2 => {
                let at = format!("samples[{}]", ts.samples.len());
                let sample = r.message(wire).and_then(decode_sample).map_err(|e| e.within(at))?;
                ts.samples.push(sample);
            }
            3 => {
                let at = format!("exemplars[{}]", ts.exemplars.len());
                let ex = r.message(wire).and_then(decode_exemplar).map_err(|e| e.within(at))?;
                ts.exemplars.push(ex);
            }
            4 => {
                let at = format!("histograms[{}]", ts.histograms_skipped);
                r.message(wire).map_err(|e| e.within(at))?;
                ts.histograms_skipped += 1;
            }
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    ts.labels = Labels::new(labels);
    Ok(ts)
}

fn decode_label(mut r: Reader<'_>) -> Result<Label> {
    let mut label = Label::new("", "");
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            1 => label.name = r.string(wire).map_err(|e| e.within("name"))?,
            2 => label.value = r.string(wire).map_err(|e| e.within("value"))?,
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    Ok(label)
}

fn decode_sample(mut r: Reader<'_>) -> Result<Sample> {
    let mut s = Sample { t: 0, v: 0.0 };
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            1 => s.v = r.double(wire).map_err(|e| e.within("value"))?,
            // int64 travels as its two's-complement bits.
            2 => s.t = r.uint64(wire).map_err(|e| e.within("timestamp"))? as i64,
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    Ok(s)
}

fn decode_exemplar(mut r: Reader<'_>) -> Result<Exemplar> {
    let mut labels = Vec::new();
    let mut ex = Exemplar::default();
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            1 => {
                let at = format!("labels[{}]", labels.len());
                let label = r.message(wire).and_then(decode_label).map_err(|e| e.within(at))?;
                labels.push(label);
            }
            2 => ex.value = r.double(wire).map_err(|e| e.within("value"))?,
            3 => ex.timestamp = r.uint64(wire).map_err(|e| e.within("timestamp"))? as i64,
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    ex.labels = Labels::new(labels);
    Ok(ex)
}

fn decode_metadata(mut r: Reader<'_>) -> Result<MetricMetadata> {
    let mut m = MetricMetadata::default();
    while !r.at_end() {
        let (number, wire) = r.key()?;
        match number {
            // An enum is an int32: keep the low 32 bits of the varint.
            1 => {
                let v = r.uint64(wire).map_err(|e| e.within("type"))?;
                m.kind = MetricKind::from_wire(v as i32);
            }
            2 => m.family = r.string(wire).map_err(|e| e.within("metric_family_name"))?,
            4 => m.help = r.string(wire).map_err(|e| e.within("help"))?,
            5 => m.unit = r.string(wire).map_err(|e| e.within("unit"))?,
            _ => r.skip(number, wire).map_err(|e| e.within(format!("#{number}")))?,
        }
    }
    Ok(m)
}
