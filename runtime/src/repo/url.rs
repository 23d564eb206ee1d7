//! Repository URLs and the key they normalize to.
//!
//! Admins write the same repository several ways (`git@github.com:acme/runbooks.git`,
//! `https://github.com/acme/runbooks`, `ssh://git@github.com/acme/runbooks`); subscriptions
//! name it by one key, `host/owner/repo`, the way hoop does. Parsing also takes the
//! credentials out of an https URL: they go to git through the credentials callback only,
//! so the URL git sees (and may quote in an error) never holds a secret.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::secret::{REDACTED, Secret};

/// Key of a repository: `host/owner/repo` (lower-case host, no port, no `.git`), or
/// `local/<absolute path>` for `file://` URLs and local paths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepoKey(String);

impl RepoKey {
    /// The key of a URL or local path. (A bare key such as `github.com/acme/r` reads as a
    /// relative path here; [`super::Repositories`] lookups match keys before parsing.)
    pub fn parse(url_or_key: &str) -> Result<RepoKey, String> {
        parse_url(url_or_key).map(|p| p.key)
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How git reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Https,
    Http,
    Ssh,
    Git,
    Local,
}

/// A parsed repository URL.
#[derive(Clone)]
pub(crate) struct ParsedUrl {
    pub key: RepoKey,
    pub transport: Transport,
    /// What git is given: no password, and for http(s) no user either.
    pub fetch_url: String,
    /// The user written in the URL, if any.
    pub url_user: Option<String>,
    /// The password or token written in the URL, if any (percent-decoded).
    pub url_password: Option<Secret>,
    /// The URL as it may be shown: credentials replaced by `***`.
    pub display: String,
    /// For local repositories, the directory.
    pub local_path: Option<PathBuf>,
    /// The port written in the URL, if any.
    pub port: Option<u16>,
}

impl fmt::Debug for ParsedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedUrl")
            .field("key", &self.key)
            .field("transport", &self.transport)
            .field("url", &self.display)
            .finish()
    }
}

/// Parses an https/http/ssh/git/file URL, an scp-like `user@host:path`, or a local path.
pub(crate) fn parse_url(input: &str) -> Result<ParsedUrl, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("the repository URL is empty".into());
    }
    if text.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the repository URL contains spaces or control characters".into());
    }
    if let Some((scheme, rest)) = text.split_once("://") {
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "https" => Transport::Https,
            "http" => Transport::Http,
            "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
            "git" => Transport::Git,
            "file" => return local(Path::new(rest), text),
            other => {
                return Err(format!(
                    "unsupported URL scheme {other:?} (use https, ssh, git, file or a path)"
                ));
            }
        };
        return network(transport, scheme, rest);
    }
    if let Some(parsed) = scp_like(text)? {
        return Ok(parsed);
    }
    local(Path::new(text), text)
}

/// `scheme://[user[:password]@]host[:port]/path`.
fn network(transport: Transport, scheme: &str, rest: &str) -> Result<ParsedUrl, String> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    // The last `@` ends the userinfo: a token may itself contain an (escaped) `@`.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (
                Some(percent_decode(u)),
                Some(Secret::new(percent_decode(p))),
            ),
            None => (Some(percent_decode(info)), None),
        },
        None => (None, None),
    };
    let host = host_of(hostport)?;
    let key = key_of(&host, path)?;
    let user = user.filter(|u| !u.is_empty());
    let password = password.filter(|p| !p.is_empty());
    let clean_authority = match (&user, transport) {
        // ssh needs its user in the URL (libgit2 offers it to the credentials callback);
        // a user name is not a secret. http(s) users go through the callback too.
        (Some(u), Transport::Ssh) => format!("{u}@{hostport}"),
        _ => hostport.to_string(),
    };
    let fetch_url = format!("{scheme}://{clean_authority}/{path}");
    // An https user may itself be the token (`https://<token>@host/...`): hide it too.
    let hide = password.is_some() || (user.is_some() && transport != Transport::Ssh);
    let display = if hide {
        format!("{scheme}://{REDACTED}@{hostport}/{path}")
    } else {
        fetch_url.clone()
    };
    Ok(ParsedUrl {
        key,
        transport,
        fetch_url,
        url_user: user,
        url_password: password,
        display,
        local_path: None,
        port: port_of(hostport),
    })
}

/// git's scp-like syntax: `[user@]host:path`, recognised when a `:` comes before any `/`.
fn scp_like(text: &str) -> Result<Option<ParsedUrl>, String> {
    let Some(colon) = text.find(':') else {
        return Ok(None);
    };
    if text[..colon].contains('/') || colon == 0 {
        return Ok(None);
    }
    let (authority, path) = (&text[..colon], &text[colon + 1..]);
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user.to_string()), host),
        None => (None, authority),
    };
    if user.as_deref().is_some_and(|u| u.contains(':')) {
        return Err("an scp-like ssh URL cannot carry a password; use git_ssh_key".into());
    }
    let host = host_of(host)?;
    let key = key_of(&host, path)?;
    let fetch_url = text.to_string();
    Ok(Some(ParsedUrl {
        key,
        transport: Transport::Ssh,
        display: fetch_url.clone(),
        fetch_url,
        url_user: user.filter(|u| !u.is_empty()),
        url_password: None,
        local_path: None,
        port: None,
    }))
}

/// `file://` URLs and paths. Relative paths are taken from the current directory; the
/// path is normalized lexically (no file system access), so a key stays the same when the
/// directory disappears.
fn local(path: &Path, original: &str) -> Result<ParsedUrl, String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot resolve the relative path {original:?}: {e}"))?
            .join(path)
    };
    let mut normal = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other.as_os_str()),
        }
    }
    let text = normal
        .to_str()
        .ok_or_else(|| format!("the path {original:?} is not valid UTF-8"))?
        .to_string();
    let trimmed = text.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let key = format!("local/{}", trimmed.trim_start_matches('/'));
    Ok(ParsedUrl {
        key: RepoKey(key),
        transport: Transport::Local,
        fetch_url: text.clone(),
        url_user: None,
        url_password: None,
        display: text,
        local_path: Some(normal),
        port: None,
    })
}

/// Lower-case host without port or brackets' port.
fn host_of(hostport: &str) -> Result<String, String> {
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        // [ipv6]:port
        rest.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("the repository URL has no host".into());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!(
            "the repository host {host:?} is not a valid host name"
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// The port of `host:port` or `[v6]:port`.
fn port_of(hostport: &str) -> Option<u16> {
    let after = match hostport.strip_prefix('[') {
        Some(rest) => rest.split_once("]:")?.1,
        None => hostport.split_once(':')?.1,
    };
    after.parse().ok()
}

/// `host/owner/repo` from a host and a URL path.
fn key_of(host: &str, path: &str) -> Result<RepoKey, String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err("the repository URL has no path (expected host/owner/repo)".into());
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err("the repository URL path contains . or ..".into());
    }
    let mut joined = parts.join("/");
    if let Some(stripped) = joined.strip_suffix(".git") {
        joined = stripped.to_string();
    }
    if joined.is_empty() {
        return Err("the repository URL has no repository name".into());
    }
    Ok(RepoKey(format!("{host}/{joined}")))
}

/// `%XX` escapes of a URL's userinfo, decoded (invalid escapes are kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> String {
        parse_url(url).map(|p| p.key.0).unwrap_or_else(|e| e)
    }

    #[test]
    fn every_spelling_gives_one_key() {
        for url in [
            "git@github.com:acme/runbooks.git",
            "git@GitHub.com:acme/runbooks",
            "ssh://git@github.com/acme/runbooks",
            "ssh://git@github.com:22/acme/runbooks.git",
            "https://github.com/acme/runbooks",
            "https://github.com/acme/runbooks.git/",
            "https://user:tok@github.com/acme/runbooks.git",
            "git://github.com/acme/runbooks.git",
        ] {
            assert_eq!(key(url), "github.com/acme/runbooks", "{url}");
        }
        assert_eq!(key("https://gitlab.com/g/sub/r.git"), "gitlab.com/g/sub/r");
        assert_eq!(key("git://127.0.0.1:9418/r.git"), "127.0.0.1/r");
    }

    #[test]
    fn local_paths_and_file_urls() {
        assert_eq!(key("file:///srv/git/acme/r.git"), "local/srv/git/acme/r");
        assert_eq!(key("/srv/git/acme/r"), "local/srv/git/acme/r");
        assert_eq!(key("/srv/git/./x/../acme/r.git/"), "local/srv/git/acme/r");
        let p = parse_url("file:///srv/r.git").map(|p| p.transport);
        assert_eq!(p.ok(), Some(Transport::Local));
    }

    #[test]
    fn https_credentials_are_taken_out_of_the_url() {
        let p = parse_url("https://bot:s3cr%40t@git.example.com/o/r.git");
        let Ok(p) = p else {
            panic!("parse failed");
        };
        assert_eq!(p.fetch_url, "https://git.example.com/o/r.git");
        assert_eq!(p.url_user.as_deref(), Some("bot"));
        assert_eq!(p.url_password.as_ref().map(|s| s.expose()), Some("s3cr@t"));
        assert!(!p.display.contains("s3cr"), "{}", p.display);
        assert!(!format!("{p:?}").contains("s3cr"));
    }

    #[test]
    fn ssh_keeps_its_user() {
        let Ok(p) = parse_url("ssh://git@h.example/o/r") else {
            panic!("parse failed");
        };
        assert_eq!(p.fetch_url, "ssh://git@h.example/o/r");
        assert_eq!(p.transport, Transport::Ssh);
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(key("").contains("empty"));
        assert!(key("ftp://h/o/r").contains("unsupported URL scheme"));
        assert!(key("https://h.example/").contains("no path"));
        assert!(key("https:///o/r").contains("no host"));
        assert!(key("https://h/o/../r").contains(".."));
    }
}
