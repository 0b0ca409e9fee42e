//! Kubernetes resource quantities (`256Mi`, `500m`, `1.5`, `2e3`), parsed exactly
//! into thousandths of a unit so that comparisons are exact.

use std::fmt;

use serde::{Serialize, Serializer};

/// A quantity as written, with its value in thousandths (millicores, millibytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    milli: i128,
}

const FORMAT: &str = "quantities must match the regular expression \
    '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 128974848, 129e6, 129M, 123Mi, 500m)";

impl Quantity {
    /// Parses a quantity; the error is the message shown to the user.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let t = text.trim();
        let bad = || format!("{text:?} is not a valid quantity: {FORMAT}");
        let (negative, rest) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(bad());
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(format!("{text:?} is too large a quantity"));
        }
        let mantissa: i128 =
            if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
        // value = mantissa * 10^(exp10 - frac_len) * 2^exp2, then * 1000 for milli.
        let (exp10, exp2): (i32, u32) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            s if s.starts_with(['e', 'E']) => {
                let e = &s[1..];
                let body = e.strip_prefix(['+', '-']).unwrap_or(e);
                if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 3 {
                    return Err(bad());
                }
                (e.parse::<i32>().map_err(|_| bad())?, 0)
            }
            _ => return Err(bad()),
        };
        let scale = exp10 + 3 - i32::try_from(frac_part.len()).map_err(|_| bad())?;
        let too_large = || format!("{text:?} is too large a quantity");
        let mut milli = mantissa;
        if scale >= 0 {
            let p = 10i128.checked_pow(scale.unsigned_abs()).ok_or_else(too_large)?;
            milli = milli.checked_mul(p).ok_or_else(too_large)?;
        } else {
            // Fractions of a thousandth round up, as Kubernetes does for MilliValue.
            let p = 10i128.checked_pow(scale.unsigned_abs()).unwrap_or(i128::MAX);
            milli = (milli + p - 1) / p;
        }
        milli = milli.checked_mul(1i128 << exp2).ok_or_else(too_large)?;
        if milli > i128::from(i64::MAX) * 1000 {
            return Err(too_large());
        }
        Ok(Quantity { text: text.to_owned(), milli: if negative { -milli } else { milli } })
    }

    /// The value in thousandths of a unit.
    pub fn milli_value(&self) -> i128 {
        self.milli
    }

    /// The value rounded up to whole units (bytes, cores).
    pub fn value(&self) -> i128 {
        (self.milli + 999).div_euclid(1000)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_exact() {
        let cases: &[(&str, i128)] = &[
            ("500m", 500),
            ("1", 1000),
            ("0.5", 500),
            ("1.5", 1500),
            ("256Mi", 268_435_456_000),
            ("1Gi", 1_073_741_824_000),
            ("129M", 129_000_000_000),
            ("129e6", 129_000_000_000),
            ("1k", 1_000_000),
            ("100n", 1),
            ("+2", 2000),
            ("-1", -1000),
            (".5", 500),
            ("0", 0),
        ];
        for (text, milli) in cases {
            assert_eq!(Quantity::parse(text).map(|q| q.milli_value()), Ok(*milli), "{text}");
        }
    }

    #[test]
    fn malformed_quantities_are_refused() {
        for bad in ["", "abc", "1.2.3", "12Q", "Mi", "1e", "5 m", "1ki", "--1", "1e1000"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Quantity::parse("99999999999999999999999999999Ei").unwrap_err(),
            "\"99999999999999999999999999999Ei\" is too large a quantity"
        );
    }
}
