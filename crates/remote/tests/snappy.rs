//! The Snappy layer: compressed forms derived by hand from the block format,
//! hand-built blocks for each element kind, every class of corrupt block,
//! size limits, and compression ratios on repetitive input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_remote::snappy::{
    MAX_DECOMPRESSED_LEN, SnappyError, compress, decompress, decompress_with_limit,
    decompressed_len,
};

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Deterministic bytes without repeats worth a copy.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 56) as u8
        })
        .collect()
}

/// The tag kinds (the low two bits) of a block's elements, in order.
fn element_kinds(block: &[u8]) -> Vec<u8> {
    let mut pos = block.iter().position(|&b| b < 0x80).unwrap() + 1;
    let mut kinds = Vec::new();
    while pos < block.len() {
        let tag = block[pos];
        kinds.push(tag & 0b11);
        let upper = usize::from(tag >> 2);
        pos += match tag & 0b11 {
            0b00 if upper < 60 => 1 + upper + 1,
            0b00 => {
                let width = upper - 59;
                let bytes = &block[pos + 1..pos + 1 + width];
                let len = bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | usize::from(b)) + 1;
                1 + width + len
            }
            0b01 => 2,
            0b10 => 3,
            _ => 5,
        };
    }
    kinds
}

fn round_trip(data: &[u8]) -> Vec<u8> {
    let c = compress(data);
    assert_eq!(decompress(&c).unwrap(), data);
    c
}

#[test]
fn empty_input() {
    assert_eq!(compress(b""), [0x00]);
    assert_eq!(decompress(&[0x00]).unwrap(), b"");
}

#[test]
fn short_literal() {
    // Length 5, then a literal tag with len-1 = 4 in the upper six bits.
    let want = cat(&[&[0x05, 4 << 2], b"hello"]);
    assert_eq!(compress(b"hello"), want);
    assert_eq!(decompress(&want).unwrap(), b"hello");
}

#[test]
fn repeat_with_a_two_byte_offset_copy() {
    // "abcd" five times: a 4-byte literal, then 16 bytes copied from 4 back.
    // 16 is too long for a 1-byte-offset copy, so it is tag 0b10 with
    // len-1 = 15 in the upper bits (0x3e) and offset 4 as two bytes.
    let data = b"abcd".repeat(5);
    let want = cat(&[&[20, 3 << 2], b"abcd", &[(15 << 2) | 0b10, 0x04, 0x00]]);
    assert_eq!(compress(&data), want);
    assert_eq!(decompress(&want).unwrap(), data);
}

#[test]
fn repeat_with_a_one_byte_offset_copy() {
    // "abcd" three times: an 8-byte copy from 4 back fits tag 0b01 with
    // len-4 = 4 in bits 2..=4 (0x11) and offset 4 in the next byte.
    let data = b"abcd".repeat(3);
    let want = cat(&[&[12, 3 << 2], b"abcd", &[((8 - 4) << 2) | 0b01, 0x04]]);
    assert_eq!(compress(&data), want);
    assert_eq!(element_kinds(&want), [0b00, 0b01]);
    assert_eq!(decompress(&want).unwrap(), data);
}

#[test]
fn run_of_one_byte_splits_into_copies_of_at_most_64() {
    // 100 × 'a': literal "a", then 99 bytes from offset 1 as 64 + 35.
    let data = vec![b'a'; 100];
    let want = [100, 0x00, b'a', (63 << 2) | 0b10, 0x01, 0x00, (34 << 2) | 0b10, 0x01, 0x00];
    assert_eq!(compress(&data), want);
    assert_eq!(decompress(&want).unwrap(), data);
}

#[test]
fn long_literals_carry_their_length_in_extra_bytes() {
    // 100 distinct bytes: tag 60 << 2 says one length byte (99) follows.
    let data: Vec<u8> = (0..100).collect();
    let want = cat(&[&[100, 60 << 2, 99], &data]);
    assert_eq!(compress(&data), want);
    // 300 bytes: tag 61 << 2 and 299 as two little-endian bytes; the
    // uncompressed length 300 is the varint 0xac 0x02.
    let data = noise(300, 1);
    let block = cat(&[&[0xac, 0x02, 61 << 2, 0x2b, 0x01], &data]);
    assert_eq!(decompress(&block).unwrap(), data);
    assert_eq!(compress(&data), block);
    // Three and four length bytes decode too.
    let block = cat(&[&[0x03, 62 << 2, 2, 0, 0], b"xyz"]);
    assert_eq!(decompress(&block).unwrap(), b"xyz");
    let block = cat(&[&[0x03, 63 << 2, 2, 0, 0, 0], b"xyz"]);
    assert_eq!(decompress(&block).unwrap(), b"xyz");
}

#[test]
fn every_copy_kind_decodes() {
    // 4-byte offset, overlapping: 'a' then five more from one back.
    let block = [6, 0x00, b'a', (4 << 2) | 0b11, 1, 0, 0, 0];
    assert_eq!(decompress(&block).unwrap(), b"aaaaaa");
    // 1-byte offset using its high bits: offset 260 = 0b1_0000_0100.
    let data = noise(300, 2);
    let mut block = cat(&[&[0xb0, 0x02, 61 << 2, 0x2b, 0x01], &data]);
    // Tag 0x21: offset bits 8..=10 = 1 in bits 5..=7, len-4 = 0, kind 0b01.
    block.extend_from_slice(&[0x21, 4]);
    let mut want = data.clone();
    want.extend_from_within(40..44);
    assert_eq!(decompress(&block).unwrap(), want);
    // 2-byte offset, overlapping with period 3.
    let block = [9, 2 << 2, b'x', b'y', b'z', (5 << 2) | 0b10, 3, 0];
    assert_eq!(decompress(&block).unwrap(), b"xyzxyzxyz");
}

#[test]
fn long_distance_matches_use_four_byte_offsets() {
    let half = noise(100_000, 3);
    let data = cat(&[&half, &half]);
    let c = round_trip(&data);
    assert!(c.len() < half.len() + half.len() / 10, "{} of {}", c.len(), data.len());
    assert!(element_kinds(&c).contains(&0b11), "no 4-byte-offset copy");
}

#[test]
fn repetitive_input_shrinks() {
    let line = b"http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1027 1700000000000\n";
    let data = line.repeat(2000);
    let c = round_trip(&data);
    assert!(c.len() * 20 < data.len(), "{} of {}", c.len(), data.len());

    // Text with small variations still compresses well.
    let text: String = (0..3000)
        .map(|i| format!("node_cpu_seconds_total{{cpu=\"{}\",mode=\"idle\"}} {}\n", i % 8, i * 7))
        .collect();
    let c = round_trip(text.as_bytes());
    assert!(c.len() * 3 < text.len(), "{} of {}", c.len(), text.len());

    // Random bytes grow by no more than the literal framing.
    let data = noise(50_000, 4);
    let c = round_trip(&data);
    assert!(c.len() <= data.len() + data.len() / 1000 + 16, "{} of {}", c.len(), data.len());
}

#[test]
fn awkward_sizes_round_trip() {
    for n in 0..300 {
        round_trip(&vec![7u8; n]);
        round_trip(&noise(n, n as u64));
        let mixed: Vec<u8> = (0..n).map(|i| if i % 37 < 20 { b'q' } else { i as u8 }).collect();
        round_trip(&mixed);
    }
    // Matches of 65..=67 bytes, which are split as 60 + the rest.
    for len in 60..80 {
        let data = cat(&[b"0123", &vec![b'z'; len], b"!", &vec![b'z'; len], b"."]);
        round_trip(&data);
    }
}

#[test]
fn over_long_declared_lengths_are_refused() {
    // 256 MiB + 1, with nothing behind it.
    let mut block = vec![0x81, 0x80, 0x80, 0x80, 0x01];
    assert_eq!(
        decompress(&block),
        Err(SnappyError::TooLarge { declared: (256 << 20) + 1, limit: MAX_DECOMPRESSED_LEN })
    );
    block.extend_from_slice(&[0xfe, 1, 0]);
    assert!(matches!(decompress(&block), Err(SnappyError::TooLarge { .. })));
    // A lower limit of the caller's choosing.
    let c = compress(b"hello, world");
    assert_eq!(decompress_with_limit(&c, 5), Err(SnappyError::TooLarge { declared: 12, limit: 5 }));
    assert_eq!(decompress_with_limit(&c, 12).unwrap(), b"hello, world");
    // More than the elements could ever produce: 1000 bytes from 2.
    assert_eq!(
        decompress(&[0xe8, 0x07, 0x00, b'a']),
        Err(SnappyError::ImpossibleLength { declared: 1000, input: 2 })
    );
    assert_eq!(decompressed_len(&[0xe8, 0x07]), Ok(1000));
}

#[test]
fn malformed_headers_are_refused() {
    assert_eq!(decompress(b""), Err(SnappyError::BadHeader));
    assert_eq!(decompress(&[0x80]), Err(SnappyError::BadHeader));
    // Wider than 32 bits.
    assert_eq!(decompress(&[0x80, 0x80, 0x80, 0x80, 0x10]), Err(SnappyError::BadHeader));
    assert_eq!(decompress(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Err(SnappyError::BadHeader));
}

#[test]
fn corrupt_elements_are_refused() {
    let cases: &[(&[u8], SnappyError)] = &[
        (&[5, 4 << 2, b'h', b'e'], SnappyError::Truncated { at: 1 }),
        (&[5, 60 << 2], SnappyError::Truncated { at: 1 }),
        (&[5, 0x00, b'a', 0b01], SnappyError::Truncated { at: 3 }),
        (&[5, 0x00, b'a', 0b10, 1], SnappyError::Truncated { at: 3 }),
        (&[5, 0x00, b'a', 0b11, 1, 0, 0], SnappyError::Truncated { at: 3 }),
        (&[5, 0x00, b'a', 0b01, 0], SnappyError::ZeroOffset { at: 3 }),
        (&[5, 0x00, b'a', 0b10, 0, 0], SnappyError::ZeroOffset { at: 3 }),
        (&[5, 0x00, b'a', 0b01, 2], SnappyError::OffsetTooFar { at: 3, offset: 2, produced: 1 }),
        (&[4, 0b10, 1, 0], SnappyError::OffsetTooFar { at: 1, offset: 1, produced: 0 }),
        (&[2, 2 << 2, b'a', b'b', b'c'], SnappyError::Overrun { at: 1, declared: 2 }),
        (&[3, 0x00, b'a', (4 << 2) | 0b10, 1, 0], SnappyError::Overrun { at: 3, declared: 3 }),
        (&[5, 0x00, b'a'], SnappyError::Underrun { declared: 5, produced: 1 }),
        (&[1], SnappyError::ImpossibleLength { declared: 1, input: 0 }),
    ];
    for (block, want) in cases {
        assert_eq!(decompress(block).as_ref(), Err(want), "{block:02x?}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn cross_check_with_python_snappy_when_present() {
    // Runs only where the python-snappy module is installed; nothing is
    // installed for it.
    let probe = std::process::Command::new("python3").args(["-c", "import snappy"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("python3 snappy module not available; skipping");
        return;
    }
    let text: String =
        (0..2000).map(|i| format!("series_{} {} {}\n", i % 50, i * 3, i % 7)).collect();
    for data in [text.into_bytes(), noise(10_000, 9), vec![0u8; 70_000]] {
        let ours = compress(&data);
        let dir = std::env::temp_dir().join(format!("andon-remote-snappy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ours_path, theirs_path) = (dir.join("ours.sz"), dir.join("theirs.sz"));
        std::fs::write(&ours_path, &ours).unwrap();
        let script = "import snappy, sys\n\
             d = snappy.uncompress(open(sys.argv[1], 'rb').read())\n\
             sys.stdout.buffer.write(d)\n\
             open(sys.argv[2], 'wb').write(snappy.compress(d))\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&ours_path)
            .arg(&theirs_path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, data, "python-snappy read our block back differently");
        let theirs = std::fs::read(&theirs_path).unwrap();
        assert_eq!(decompress(&theirs).unwrap(), data, "we read python-snappy's block differently");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
