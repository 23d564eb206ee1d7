//! Each layer on its own, their precedence, strictness and the redacted print.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_alone() {
    let c = load(&Sources::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.workers, 2);
    assert_eq!(c.body_limit, 1024 * 1024);
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.shutdown_deadline, Duration::from_secs(30));
    assert_eq!(c.limits.fuel, runbox_host_api::Limits::default().fuel);
    // Nothing configured at all: the demo instance.
    assert!(c.demo);
}

#[test]
fn file_layer_overrides_defaults_and_accepts_units() {
    let f = file(
        r#"
listen = "127.0.0.1:9999"
data_dir = "/srv/runbox"
workers = 3
body_limit = "2MiB"
log_format = "json"
shutdown_deadline = "5s"

[limits]
memory = "32MiB"
timeout = "3s"

[orgs.acme]
event_routing = true

[[orgs.acme.repositories]]
git_url = "https://github.com/acme/runbooks"
branch = "main"
git_password = "s3cr3t-token"
hook_config_ttl = 60
"#,
    );
    let c = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.data_dir.to_str(), Some("/srv/runbox"));
    assert_eq!(c.workers, 3);
    assert_eq!(c.body_limit, 2 * 1024 * 1024);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.limits.memory, 32 << 20);
    assert_eq!(c.limits.timeout, Duration::from_secs(3));
    // Untouched keys of a touched table keep their defaults.
    assert_eq!(c.limits.fuel, runbox_host_api::Limits::default().fuel);
    let acme = &c.orgs["acme"];
    assert!(acme.event_routing);
    assert_eq!(acme.repositories.len(), 1);
    assert_eq!(acme.repositories[0].branch.as_deref(), Some("main"));
    assert!(!c.demo, "a config file means no implicit demo");
}

#[test]
fn env_layer_overrides_file() {
    let f = file("workers = 3\nlisten = \"127.0.0.1:9000\"\n");
    let c = load(&Sources {
        file: Some(f.path().to_path_buf()),
        env: env(&[
            ("RUNBOX_WORKERS", "5"),
            ("RUNBOX_LIMITS_TIMEOUT", "7s"),
            ("RUNBOX_AGENTS_ONLINE_DEFAULT", "false"),
            ("PATH", "/usr/bin"),
            ("RUNBOX_CONFIG", "/ignored/here"),
        ]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.workers, 5);
    assert_eq!(c.listen.port(), 9000, "file value kept where env is silent");
    assert_eq!(c.limits.timeout, Duration::from_secs(7));
    assert!(!c.agents_online_default);
}

#[test]
fn flags_override_env_and_file() {
    let f = file("workers = 3\nshutdown_deadline = \"9s\"\n");
    let c = load(&Sources {
        file: Some(f.path().to_path_buf()),
        env: env(&[("RUNBOX_WORKERS", "5"), ("RUNBOX_LOG_FORMAT", "json")]),
        flags: Overrides {
            workers: Some(7),
            ..Overrides::default()
        },
    })
    .unwrap();
    assert_eq!(c.workers, 7, "flag > env > file");
    assert_eq!(c.log_format, LogFormat::Json, "env > default");
    assert_eq!(
        c.shutdown_deadline,
        Duration::from_secs(9),
        "file > default"
    );
}

#[test]
fn unknown_file_key_is_named() {
    let f = file("workers = 2\nwokers = 3\n");
    let err = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("wokers"), "{err}");

    let f = file("[limits]\nfuell = 1\n");
    let err = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("fuell"), "{err}");

    let f = file("[[orgs.a.repositories]]\ngit_url = \"/x\"\ngit_pasword = \"p\"\n");
    let err = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("git_pasword"), "{err}");
}

#[test]
fn unknown_env_var_is_named() {
    let err = load(&Sources {
        env: env(&[("RUNBOX_WORKES", "8")]),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("RUNBOX_WORKES"), "{err}");
    assert!(
        err.contains("RUNBOX_WORKERS"),
        "lists the known ones: {err}"
    );
}

#[test]
fn bad_env_value_is_named() {
    for (name, value) in [
        ("RUNBOX_WORKERS", "many"),
        ("RUNBOX_LIMITS_MEMORY", "lots"),
        ("RUNBOX_SHUTDOWN_DEADLINE", "10"),
        ("RUNBOX_DEMO", "maybe"),
    ] {
        let err = load(&Sources {
            env: env(&[(name, value)]),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn invalid_values_are_refused_with_the_key() {
    let err = load(&Sources {
        flags: Overrides {
            workers: Some(0),
            ..Overrides::default()
        },
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("workers"), "{err}");

    let f = file("[[orgs.a.repositories]]\ngit_url = \"/x\"\nbranch = \"a..b\"\n");
    let err = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("orgs.a.repositories[0]"), "{err}");
}

#[test]
fn print_hides_secrets_and_reads_back() {
    let f = file(
        r#"
[[orgs.acme.repositories]]
git_url = "https://bot:url-t0ken@github.com/acme/runbooks"
git_password = "pa55word-x"
git_ssh_keypass = "keypass-y"
"#,
    );
    let c = load(&Sources {
        file: Some(f.path().to_path_buf()),
        ..Sources::default()
    })
    .unwrap();
    let text = print::to_toml(&c).unwrap();
    for secret in ["url-t0ken", "pa55word-x", "keypass-y"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("***"), "{text}");
    assert!(text.contains("github.com/acme/runbooks"), "{text}");
    // The printed form is a valid config again.
    let again: ServerConfig = toml::from_str(&text).unwrap();
    assert_eq!(again.workers, c.workers);
    assert_eq!(again.body_limit, c.body_limit);
    assert_eq!(again.shutdown_deadline, c.shutdown_deadline);
}

#[test]
fn every_documented_variable_sets_a_real_key() {
    for (name, key, kind) in env::VARIABLES {
        let value = match kind {
            env::Kind::Text => match *key {
                "listen" => "127.0.0.1:7000",
                "log_format" => "json",
                _ => "/tmp/runbox-test-dir",
            },
            env::Kind::Integer => "4",
            env::Kind::Bool => "true",
            env::Kind::Size => "2MiB",
            env::Kind::Duration => "7s",
        };
        let result = load(&Sources {
            env: env(&[(name, value)]),
            ..Sources::default()
        });
        assert!(result.is_ok(), "{name} -> {key}: {result:?}");
    }
}
