//! Per-invocation sandbox limits and the human-readable size/duration parsers the CLI and
//! config use for them.

use crate::error::HostError;
use std::time::Duration;

/// The resources one invocation may use. Every run gets its own budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel budget (≈1.5e10 fuel per CPU-second on the reference machine).
    pub fuel: u64,
    /// Cap on all linear memories of the instance together, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock deadline for instantiate + call, host calls included.
    pub timeout: Duration,
    /// Cap on the captured console, on the captured log text, and on the returned output
    /// string (each separately).
    pub output_bytes: usize,
    /// Cap on the invocation payload + params, checked before anything is instantiated.
    pub payload_bytes: usize,
    /// Budget of bytes passed across runbox host calls (logs, exec, config, http bodies).
    pub hostcall_bytes: u64,
}

/// One WebAssembly page: the smallest memory a module with memory can have.
const WASM_PAGE: u64 = 64 * 1024;
/// Larger than any 32-bit linear memory: a cap above it means nothing.
const MAX_MEMORY: u64 = 4 * 1024 * 1024 * 1024;
/// Longer than any runbook should take; longer values are almost certainly unit mistakes.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for Limits {
    /// Production defaults: about 0.7 s of CPU, 64 MiB, 10 s, 64 KiB of output, 1 MiB of
    /// payload, 8 MiB across host calls.
    fn default() -> Self {
        Limits {
            fuel: 10_000_000_000,
            memory_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            output_bytes: 64 * 1024,
            payload_bytes: 1024 * 1024,
            hostcall_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Tight limits for the `describe` export, called at load time for every component:
    /// describing must be cheap and must not do I/O.
    pub fn describe() -> Self {
        Limits {
            fuel: 500_000_000,
            memory_bytes: 32 * 1024 * 1024,
            timeout: Duration::from_secs(2),
            output_bytes: 16 * 1024,
            payload_bytes: 64 * 1024,
            hostcall_bytes: 256 * 1024,
        }
    }

    /// Checks every field is in range; the error names the field.
    pub fn validate(&self) -> Result<(), HostError> {
        fn bad(field: &'static str, reason: impl Into<String>) -> Result<(), HostError> {
            Err(HostError::InvalidLimit {
                field,
                reason: reason.into(),
            })
        }
        if self.fuel == 0 {
            return bad("fuel", "must be greater than 0");
        }
        if self.memory_bytes < WASM_PAGE {
            return bad(
                "memory_bytes",
                format!(
                    "{} bytes is less than one wasm page ({WASM_PAGE} bytes)",
                    self.memory_bytes
                ),
            );
        }
        if self.memory_bytes > MAX_MEMORY {
            return bad(
                "memory_bytes",
                format!(
                    "{} bytes is more than 4 GiB, the most a 32-bit memory can use",
                    self.memory_bytes
                ),
            );
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be greater than 0");
        }
        if self.timeout > MAX_TIMEOUT {
            return bad("timeout", format!("{:?} is longer than 24h", self.timeout));
        }
        if self.output_bytes == 0 {
            return bad("output_bytes", "must be greater than 0");
        }
        if self.payload_bytes == 0 {
            return bad("payload_bytes", "must be greater than 0");
        }
        if self.hostcall_bytes == 0 {
            return bad("hostcall_bytes", "must be greater than 0");
        }
        Ok(())
    }
}

/// Parses a byte size: a plain number of bytes (`1048576`), or a number with a unit:
/// `B`; `KiB`/`MiB`/`GiB` (powers of 1024); `KB`/`MB`/`GB` (powers of 1000); `K`/`M`/`G`
/// (powers of 1024, as in `docker -m`). Units are case-insensitive, a space is allowed,
/// fractions are allowed with a unit (`1.5GiB`).
pub fn parse_size(input: &str) -> Result<u64, HostError> {
    let err = |reason: String| HostError::InvalidSize {
        input: input.to_string(),
        reason,
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(err("empty".into()));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number.replace('_', "");
    let unit = unit.trim();
    if number.is_empty() {
        return Err(err("expected a number first, e.g. `64MiB`".into()));
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(err(format!(
                "unknown unit {unit:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            )));
        }
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(multiplier)
            .ok_or_else(|| err("too large".into()));
    }
    if unit.is_empty() || unit.eq_ignore_ascii_case("b") {
        return Err(err("a byte count must be a whole number".into()));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| err(format!("{number:?} is not a number")))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(err("too large".into()));
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration: one or more `<number><unit>` parts (`500ms`, `10s`, `2m`, `1h`,
/// `1m30s`, `250us`). A unit is required: a bare number is ambiguous and rejected.
pub fn parse_duration(input: &str) -> Result<Duration, HostError> {
    let err = |reason: String| HostError::InvalidDuration {
        input: input.to_string(),
        reason,
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(err("empty".into()));
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err(format!("expected a number at {rest:?}")));
        }
        let (number, tail) = rest.split_at(digits);
        let tail = tail.trim_start();
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos_per_unit: f64 = match unit.to_ascii_lowercase().as_str() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" | "sec" | "secs" => 1e9,
            "m" | "min" | "mins" => 60e9,
            "h" | "hr" | "hrs" => 3600e9,
            "" => {
                return Err(err(format!(
                    "missing unit after {number} (use ms, s, m or h, e.g. `{number}s`)"
                )));
            }
            other => {
                return Err(err(format!(
                    "unknown unit {other:?} (use ns, us, ms, s, m or h)"
                )));
            }
        };
        let value: f64 = number
            .parse()
            .map_err(|_| err(format!("{number:?} is not a number")))?;
        let nanos = value * nanos_per_unit;
        if !nanos.is_finite() || nanos > u64::MAX as f64 {
            return Err(err("too long".into()));
        }
        total = total
            .checked_add(Duration::from_nanos(nanos.round() as u64))
            .ok_or_else(|| err("too long".into()))?;
        rest = tail.trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_sane() {
        let l = Limits::default();
        l.validate().unwrap();
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.timeout, Duration::from_secs(10));
        Limits::describe().validate().unwrap();
        assert!(Limits::describe().fuel < l.fuel);
    }

    #[test]
    fn validate_names_the_field() {
        let cases: Vec<(Limits, &str)> = vec![
            (
                Limits {
                    fuel: 0,
                    ..Limits::default()
                },
                "fuel",
            ),
            (
                Limits {
                    memory_bytes: 100,
                    ..Limits::default()
                },
                "memory_bytes",
            ),
            (
                Limits {
                    memory_bytes: 5 << 30,
                    ..Limits::default()
                },
                "memory_bytes",
            ),
            (
                Limits {
                    timeout: Duration::ZERO,
                    ..Limits::default()
                },
                "timeout",
            ),
            (
                Limits {
                    timeout: Duration::from_secs(100_000),
                    ..Limits::default()
                },
                "timeout",
            ),
            (
                Limits {
                    output_bytes: 0,
                    ..Limits::default()
                },
                "output_bytes",
            ),
            (
                Limits {
                    payload_bytes: 0,
                    ..Limits::default()
                },
                "payload_bytes",
            ),
            (
                Limits {
                    hostcall_bytes: 0,
                    ..Limits::default()
                },
                "hostcall_bytes",
            ),
        ];
        for (limits, field) in cases {
            let e = limits.validate().unwrap_err();
            match &e {
                HostError::InvalidLimit { field: f, .. } => assert_eq!(*f, field),
                other => panic!("unexpected {other:?}"),
            }
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("64 mib").unwrap(), 64 << 20);
        assert_eq!(parse_size("512KB").unwrap(), 512_000);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("10B").unwrap(), 10);
        assert_eq!(parse_size("1_000").unwrap(), 1000);
        assert_eq!(parse_size(" 7 ").unwrap(), 7);
    }

    #[test]
    fn bad_sizes_say_why() {
        for (input, needle) in [
            ("", "empty"),
            ("MiB", "number first"),
            ("64XB", "unknown unit"),
            ("1.5", "whole number"),
            ("99999999999999999999GiB", "too large"),
            ("1..5MiB", "not a number"),
        ] {
            let e = parse_size(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration(" 3 s ").unwrap(), Duration::from_secs(3));
    }

    #[test]
    fn bad_durations_say_why() {
        for (input, needle) in [
            ("", "empty"),
            ("10", "missing unit"),
            ("10 parsecs", "unknown unit"),
            ("s", "expected a number"),
            ("1..2s", "not a number"),
        ] {
            let e = parse_duration(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
        }
    }
}
