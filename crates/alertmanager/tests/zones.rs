//! Time zones from the system's TZif files: offsets across daylight-saving changes and
//! time intervals evaluated in a DST zone. Skipped with a message when the zoneinfo
//! files are absent, unless `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::sync::Arc;

use andon_alertmanager::timeinterval::TimeInterval;
use andon_alertmanager::tz::{Zone, ZoneLookup, is_valid_zone_name};
use andon_alertmanager::{Alert, Dispatcher, config};
use andon_core::time::days_from_civil;

const ZONEINFO: &str = "/usr/share/zoneinfo";

/// Reads zones from the zoneinfo directory, as the caller's lookup does.
struct Files;

impl ZoneLookup for Files {
    fn zone(&self, name: &str) -> Option<Arc<Zone>> {
        if !is_valid_zone_name(name) {
            return None;
        }
        let bytes = std::fs::read(format!("{ZONEINFO}/{name}")).ok()?;
        Zone::from_tzif(name, &bytes).ok().map(Arc::new)
    }
}

fn available() -> bool {
    let ok = std::path::Path::new(ZONEINFO).join("Europe/Berlin").exists();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{ZONEINFO} is required in CI (apt-get install tzdata)");
        }
        eprintln!("skipping: no {ZONEINFO} (apt-get install tzdata)");
    }
    ok
}

fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
    days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
}

#[test]
fn offsets_follow_daylight_saving() {
    if !available() {
        return;
    }
    let berlin = Files.zone("Europe/Berlin").unwrap();
    assert_eq!(berlin.offset_at(utc(2024, 1, 15, 12, 0)), (3600, "CET"));
    assert_eq!(berlin.offset_at(utc(2024, 7, 15, 12, 0)), (7200, "CEST"));
    // 2024-03-31 01:00Z: clocks jump from 02:00 CET to 03:00 CEST.
    assert_eq!(berlin.offset_at(utc(2024, 3, 31, 0, 59)).0, 3600);
    assert_eq!(berlin.offset_at(utc(2024, 3, 31, 1, 0)).0, 7200);
    // Far future instants use the zone's rule.
    assert_eq!(berlin.offset_at(utc(2070, 7, 1, 0, 0)).0, 7200);
    assert_eq!(berlin.offset_at(utc(2070, 12, 1, 0, 0)).0, 3600);
    // Before standard time existed: local mean time.
    assert_eq!(berlin.offset_at(utc(1850, 1, 1, 0, 0)).0, 3208);
    let ny = Files.zone("America/New_York").unwrap();
    assert_eq!(ny.offset_at(utc(2024, 3, 10, 6, 59)), (-18_000, "EST"));
    assert_eq!(ny.offset_at(utc(2024, 3, 10, 7, 0)), (-14_400, "EDT"));
    let sydney = Files.zone("Australia/Sydney").unwrap();
    assert_eq!(sydney.offset_at(utc(2024, 1, 1, 0, 0)).0, 11 * 3600);
    assert_eq!(sydney.offset_at(utc(2024, 7, 1, 0, 0)).0, 10 * 3600);
    assert!(Files.zone("../../etc/passwd").is_none());
    assert!(Files.zone("Nowhere/Land").is_none());
}

#[test]
fn business_hours_in_berlin_across_the_dst_change() {
    if !available() {
        return;
    }
    let ti = TimeInterval {
        times: Some(vec![(9 * 60, 17 * 60)]),
        location: Files.zone("Europe/Berlin"),
        ..TimeInterval::default()
    };
    let ms = |s: i64| s * 1000;
    // Winter: 09:00 Berlin is 08:00Z.
    assert!(!ti.contains(ms(utc(2024, 3, 29, 7, 59))));
    assert!(ti.contains(ms(utc(2024, 3, 29, 8, 0))));
    assert!(!ti.contains(ms(utc(2024, 3, 29, 16, 0))));
    // Summer (after 2024-03-31): 09:00 Berlin is 07:00Z.
    assert!(ti.contains(ms(utc(2024, 4, 2, 7, 0))));
    assert!(ti.contains(ms(utc(2024, 4, 2, 14, 59))));
    assert!(!ti.contains(ms(utc(2024, 4, 2, 15, 0))));
    // Last day of the month in local time: 2024-03-31 23:30 CEST is 21:30Z.
    let last = TimeInterval {
        days_of_month: Some(vec![(-1, -1)]),
        location: Files.zone("Europe/Berlin"),
        ..TimeInterval::default()
    };
    assert!(last.contains(ms(utc(2024, 3, 31, 21, 30))));
    assert!(!last.contains(ms(utc(2024, 3, 31, 22, 30))), "already April 1st in Berlin");
    assert!(last.contains(ms(utc(2024, 2, 28, 23, 30))), "Feb 29th 00:30 in Berlin");
}

#[test]
fn configured_locations_mute_routes() {
    if !available() {
        return;
    }
    let yaml = r#"
route:
  receiver: r
  group_wait: 0s
  routes: [{matchers: ['a="b"'], active_time_intervals: [office]}]
receivers: [{name: r, webhook_configs: [{url: 'http://127.0.0.1:1/'}]}]
time_intervals:
  - name: office
    time_intervals:
      - {times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday'], location: 'America/New_York'}
"#;
    let cfg = config::parse(yaml.as_bytes(), "am.yml", &Files).unwrap();
    assert!(
        config::parse(
            yaml.replace("America/New_York", "Nowhere/Land").as_bytes(),
            "am.yml",
            &Files
        )
        .is_err()
    );
    let mut d = Dispatcher::new(&cfg);
    let mut a = Alert::new([("a", "b")]);
    // Monday 2024-05-06 12:00Z is 08:00 in New York: not yet office hours.
    let t = utc(2024, 5, 6, 12, 0) * 1000;
    a.starts_at = Some(t);
    a.ends_at = Some(t + 86_400_000);
    d.insert(a, t).unwrap();
    assert!(d.tick(t).is_empty());
    // The next flush (group_interval 5m) after 13:00Z notifies.
    let mut now = t;
    let mut sent = None;
    while sent.is_none() && now < t + 3_600_000 * 3 {
        now += 300_000;
        if !d.tick(now).is_empty() {
            sent = Some(now);
        }
    }
    assert_eq!(sent, Some(utc(2024, 5, 6, 13, 0) * 1000));
}
