//! Byte sizes in config files: `"64MiB"`, `"512KB"` or a plain integer of bytes.

/// Serde adapter for a `u64` byte size. Serialized as an integer (exact, re-readable).
pub mod size {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(b),
            Raw::Text(t) => runbox_host_api::parse_size(&t).map_err(serde::de::Error::custom),
        }
    }
}
