//! Times as reports write them: RFC 3339, and Unix seconds read back.

/// Unix seconds of an RFC 3339 time as reports write it.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// RFC 3339 (seconds) of Unix seconds.
pub fn format_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A packet's time as a flow record carries it (`first_seen`,
/// `last_seen`): microseconds since the Unix epoch, written as RFC 3339
/// UTC with six fraction digits (`2026-12-05T10:00:00.123456Z`; a time
/// outside years 1-9999 as `@SECONDS.MICROS`), and read back from that
/// text, so consumers compare and compute with times, not strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CaptureTime {
    micros: i64,
}

impl CaptureTime {
    /// The time of a capture timestamp (nanoseconds; the microsecond it
    /// falls in, as the report writes it).
    pub fn from_nanos(nanos: i64) -> Self {
        CaptureTime {
            micros: nanos.div_euclid(1000),
        }
    }

    /// Nanoseconds since the Unix epoch (of the microsecond).
    pub fn nanos(self) -> i64 {
        self.micros.saturating_mul(1000)
    }

    /// Whole Unix seconds.
    pub fn unix_seconds(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// Read the text a report writes (any RFC 3339 time is accepted; its
    /// fraction is cut to microseconds).
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix('@') {
            let (secs, frac) = rest.split_once('.')?;
            let secs: i64 = secs.parse().ok()?;
            if frac.len() != 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let frac: i64 = frac.parse().ok()?;
            let micros = secs.checked_mul(1_000_000)?.checked_add(frac)?;
            // Only a time a capture can carry (nanoseconds in an i64), so
            // that it is written back as read.
            micros.checked_mul(1000)?;
            return Some(CaptureTime { micros });
        }
        if let Some(t) = parse_written(s) {
            return Some(t);
        }
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        let nanos = i64::try_from(t.unix_timestamp_nanos()).ok()?;
        Some(CaptureTime::from_nanos(nanos))
    }
}

/// The form reports write (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), read without
/// the general RFC 3339 parser: every flow's two times are read back from
/// the spill file, and this is several times faster. `None` for anything
/// else (the general parser decides).
fn parse_written(s: &str) -> Option<CaptureTime> {
    let b: &[u8; 27] = s.as_bytes().try_into().ok()?;
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, sec, micros) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y == 0 || d < 1 || d > month_days || h > 23 || min > 59 || sec > 59 {
        return None;
    }
    // Days from 1970-01-01 (H. Hinnant's days_from_civil; y >= 1 here).
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy / 400;
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + min * 60 + sec;
    Some(CaptureTime {
        micros: secs * 1_000_000 + micros,
    })
}

/// The written form of a time in years 1 to 9999.
type Written = [u8; 27];

/// What `capture::format_ts` writes for `nanos`, written without a
/// formatter (two per flow record): the form [`parse_written`] reads.
/// `None` outside years 1 to 9999, which `format_ts` writes otherwise.
fn write_written(nanos: i64) -> Option<Written> {
    /// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in Unix seconds.
    const FIRST: i64 = -62_135_596_800;
    const END: i64 = 253_402_300_800;
    let micros = nanos.div_euclid(1000);
    let secs = micros.div_euclid(1_000_000);
    if !(FIRST..END).contains(&secs) {
        return None;
    }
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The civil date of a day count (H. Hinnant's civil_from_days; the
    // inverse of the one in `parse_written`), for days from year 1 on.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out: Written = *b"0000-00-00T00:00:00.000000Z";
    for (at, width, mut n) in [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, day_secs / 3600),
        (14, 2, day_secs / 60 % 60),
        (17, 2, day_secs % 60),
        (20, 6, micros.rem_euclid(1_000_000)),
    ] {
        for digit in out.iter_mut().skip(at).take(width).rev() {
            *digit = b'0' + u8::try_from(n % 10).ok()?;
            n /= 10;
        }
    }
    Some(out)
}

impl std::fmt::Display for CaptureTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Through `nanos` (saturating) as `format_ts` is given it.
        match write_written(self.nanos()) {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?),
            None => f.write_str(&crate::capture::format_ts(self.nanos())),
        }
    }
}

impl serde::Serialize for CaptureTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match write_written(self.nanos())
            .as_ref()
            .and_then(|t| std::str::from_utf8(t).ok())
        {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> serde::Deserialize<'de> for CaptureTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CaptureTime::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formatter-free writer agrees with `capture::format_ts` across
    /// the range of capture timestamps (both ends, leap days, centuries,
    /// month ends, times of day) and for times read back from reports,
    /// which `nanos` saturates as before.
    #[test]
    fn written_form_agrees_with_format_ts() {
        let day = 86_400_000_000_000i64;
        let mut nanos: Vec<i64> = vec![i64::MIN, i64::MAX, -1, 0, 1, -999, 951_782_399_999_999_999];
        // Every 37 days, an hour, a microsecond and a nanosecond apart, and
        // the last nanosecond of each of those days.
        let mut t = i64::MIN + 123_456_789;
        while let Some(next) = t.checked_add(37 * day + 3_600_000_001_001) {
            nanos.push(t);
            let day_end = t
                .checked_sub(t.rem_euclid(day))
                .and_then(|d| d.checked_add(day - 1));
            nanos.extend(day_end);
            t = next;
        }
        for n in nanos {
            let want = crate::capture::format_ts(n);
            let got = write_written(n).expect("a capture timestamp is in years 1-9999");
            assert_eq!(std::str::from_utf8(&got), Ok(want.as_str()), "{n}");
        }
        for micros in [
            -62_135_596_800_000_000,
            253_402_300_799_999_999,
            i64::MIN / 1000,
        ] {
            let t = CaptureTime { micros };
            let want = crate::capture::format_ts(t.nanos());
            assert_eq!(t.to_string(), want);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{want}\""));
        }
    }

    #[test]
    fn capture_times_read_back_as_written() {
        for nanos in [
            0,
            1_764_930_000_123_456_789,
            -1_500,
            i64::MAX / 1000 * 1000,
            253_402_300_800_000_000,
        ] {
            let t = CaptureTime::from_nanos(nanos);
            let text = t.to_string();
            assert_eq!(text, crate::capture::format_ts(nanos));
            assert_eq!(CaptureTime::parse(&text), Some(t), "{text}");
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<CaptureTime>(&json).unwrap(), t);
        }
        assert_eq!(
            CaptureTime::parse("2026-12-05T10:00:01.5Z").map(CaptureTime::unix_seconds),
            Some(1_796_464_801)
        );
        // The fast path agrees with the general parser.
        for text in [
            "1970-01-01T00:00:00.000000Z",
            "2000-02-29T23:59:59.999999Z",
            "2026-12-05T10:00:01.500000Z",
            "1969-12-31T23:59:59.000001Z",
            "9999-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00.000000Z",
            "2100-03-01T00:00:00.000000Z",
        ] {
            let general =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            let micros = i64::try_from(general.unix_timestamp_nanos() / 1000).unwrap();
            assert_eq!(parse_written(text), Some(CaptureTime { micros }), "{text}");
        }
        for text in [
            "2026-02-29T00:00:00.000000Z",
            "2100-02-29T00:00:00.000000Z",
            "2026-13-01T00:00:00.000000Z",
            "2026-01-01T24:00:00.000000Z",
            "2026-01-01 00:00:00.000000Z",
            "2026-01-01T00:00:00.00000aZ",
        ] {
            assert_eq!(parse_written(text), None, "{text}");
        }
        assert!(CaptureTime::parse("x").is_none());
        assert!(CaptureTime::parse("@1.5").is_none());
        assert_eq!(
            CaptureTime::parse("@1.500000")
                .map(|t| t.to_string())
                .as_deref(),
            Some("1970-01-01T00:00:01.500000Z")
        );
        // Beyond what nanoseconds in an i64 reach (years 1677-2262): not a
        // capture time, and it could not be written back as read.
        assert!(CaptureTime::parse("@-62135596801.000000").is_none());
        assert!(serde_json::from_str::<CaptureTime>("\"yesterday\"").is_err());
    }
}
