//! Serde adapters for `Duration`.
//!
//! Config files say `"10ms"` or `"2s"` (parsed by [`runbox_host_api::parse_duration`]);
//! machine output (`--json`) reports durations as fractional milliseconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Human form, `"250ms"`, `"10s"`; also accepts an integer number of milliseconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_human(*d))
}

/// See [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => runbox_host_api::parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

/// `"250ms"` for whole milliseconds under a second, `"1.5s"` otherwise, `"120µs"` below 1 ms.
pub fn format_human(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{}µs", d.as_micros())
    } else if d < Duration::from_secs(1) && d.subsec_micros().is_multiple_of(1000) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(1) {
        format!("{:.3}ms", d.as_secs_f64() * 1000.0)
    } else if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// Fractional milliseconds, for machine output.
pub mod millis {
    use super::*;

    /// Serializes as an `f64` number of milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_format_covers_each_range() {
        assert_eq!(format_human(Duration::from_micros(120)), "120µs");
        assert_eq!(format_human(Duration::from_millis(250)), "250ms");
        assert_eq!(format_human(Duration::from_micros(1500)), "1.500ms");
        assert_eq!(format_human(Duration::from_secs(10)), "10s");
        assert_eq!(format_human(Duration::from_millis(1500)), "1.500s");
    }
}
