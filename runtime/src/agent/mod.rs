//! Agents: what runs `connection.exec` for a runbook.
//!
//! In the gateway, every connection is served by an agent process near the resource; the
//! embedding gateway supplies that as a [`runbox_host_api::Agent`]. So runbox also works
//! stand-alone, [`LocalAgent`] runs `custom` connections' commands on this machine.

mod local;

pub use local::{LocalAgent, LocalAgentLimits, LocalCommand};
