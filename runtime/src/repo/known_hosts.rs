//! Checking an ssh server's host key against the admin's `known_hosts` lines
//! (`GIT_SSH_KNOWN_HOSTS`).
//!
//! Used from libgit2's certificate callback: an ssh fetch to a server whose key is not
//! listed (or differs) is refused before any credential is sent. Plain host patterns,
//! `[host]:port`, `*`/`?` wildcards and `!` negations are read; hashed entries (`|1|...`)
//! and `@cert-authority` lines are not (write the host in plain form, as `ssh-keyscan`
//! without `-H` prints it).

use sha2::{Digest, Sha256};

/// Parsed `known_hosts` text.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
    unsupported: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    patterns: Vec<String>,
    key: String,
    revoked: bool,
}

impl KnownHosts {
    /// Reads the lines; blank lines, comments and lines it cannot use are skipped.
    pub(crate) fn parse(text: &str) -> KnownHosts {
        let mut out = KnownHosts::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let mut revoked = false;
            if first.starts_with('@') {
                if first != "@revoked" {
                    out.unsupported += 1;
                    continue;
                }
                revoked = true;
                first = fields.next().unwrap_or_default();
            }
            let (Some(_kind), Some(key)) = (fields.next(), fields.next()) else {
                out.unsupported += 1;
                continue;
            };
            if first.starts_with('|') {
                out.unsupported += 1;
                continue;
            }
            out.entries.push(Entry {
                patterns: first.split(',').map(str::to_ascii_lowercase).collect(),
                key: key.to_string(),
                revoked,
            });
        }
        out
    }

    /// Accepts the server key `blob` (the raw public key, as in the `known_hosts` base64
    /// field) offered by `host:port`, or says why not.
    pub(crate) fn check(&self, host: &str, port: u16, blob: &[u8]) -> Result<(), String> {
        let offered = base64(blob);
        let host = host.to_ascii_lowercase();
        let mut listed = false;
        let mut accepted = false;
        for entry in self.entries.iter().filter(|e| matches_host(e, &host, port)) {
            if entry.revoked {
                if entry.key == offered {
                    return Err(format!(
                        "the host key of {host} is marked @revoked in git_ssh_known_hosts"
                    ));
                }
                continue;
            }
            listed = true;
            accepted |= entry.key == offered;
        }
        if accepted {
            return Ok(());
        }
        let fingerprint = fingerprint(blob);
        if listed {
            Err(format!(
                "the host key of {host} ({fingerprint}) does not match git_ssh_known_hosts: \
                 possible man-in-the-middle, or the server's key changed"
            ))
        } else {
            let note = if self.unsupported > 0 {
                " (hashed and @cert-authority lines are not read: list the host in plain form)"
            } else {
                ""
            };
            Err(format!(
                "{host} is not in git_ssh_known_hosts{note}; its key is {fingerprint}"
            ))
        }
    }
}

/// An entry's patterns against a host: any positive match and no negated one.
fn matches_host(entry: &Entry, host: &str, port: u16) -> bool {
    let mut matched = false;
    for pattern in &entry.patterns {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let (pattern_host, pattern_port) = match pattern.strip_prefix('[') {
            Some(rest) => match rest.split_once("]:") {
                Some((h, p)) => (h, p.parse().unwrap_or(0)),
                None => (rest.trim_end_matches(']'), 22),
            },
            None => (pattern, 22),
        };
        if pattern_port == port && glob(pattern_host, host) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `*` and `?` wildcards, as ssh's `match_pattern`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `SHA256:<base64>` as `ssh-keygen -l` prints it.
fn fingerprint(blob: &[u8]) -> String {
    let digest = base64(&Sha256::digest(blob));
    format!("SHA256:{}", digest.trim_end_matches('='))
}

/// Standard base64 with padding (the `known_hosts` key encoding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"\0\0\0\x0bssh-ed25519\0\0\0\x20abcdefghijklmnopqrstuvwxyz012345";

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn accepts_listed_key_and_refuses_others() {
        let text = format!(
            "# comment\ngithub.com,*.example.com ssh-ed25519 {}\n[git.internal]:2222 ssh-ed25519 {}\n|1|abc|def ssh-rsa AAAA\n",
            base64(KEY),
            base64(KEY)
        );
        let hosts = KnownHosts::parse(&text);
        assert!(hosts.check("GitHub.com", 22, KEY).is_ok());
        assert!(hosts.check("a.example.com", 22, KEY).is_ok());
        assert!(hosts.check("git.internal", 2222, KEY).is_ok());
        let unknown = hosts.check("git.internal", 22, KEY).unwrap_err();
        assert!(unknown.contains("not in git_ssh_known_hosts"), "{unknown}");
        assert!(unknown.contains("hashed"), "{unknown}");
        let changed = hosts.check("github.com", 22, b"other key").unwrap_err();
        assert!(changed.contains("does not match"), "{changed}");
        assert!(changed.contains("SHA256:"), "{changed}");
    }

    #[test]
    fn negation_and_revocation() {
        let text = format!(
            "*.example.com,!bad.example.com ssh-ed25519 {k}\n@revoked old.example.com ssh-ed25519 {k}\n",
            k = base64(KEY)
        );
        let hosts = KnownHosts::parse(&text);
        assert!(hosts.check("bad.example.com", 22, KEY).is_err());
        assert!(
            hosts
                .check("old.example.com", 22, KEY)
                .unwrap_err()
                .contains("revoked")
        );
    }

    #[test]
    fn glob_cases() {
        assert!(glob("*", "x"));
        assert!(glob("g?t.*.com", "git.a.com"));
        assert!(!glob("git.com", "git.co"));
        assert!(!glob("*.com", "com"));
    }
}
