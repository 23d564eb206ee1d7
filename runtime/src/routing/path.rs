//! One JSONPath (RFC 9535, evaluated by `serde_json_path`), parsed once and kept with its
//! source text, plus the payload field it starts from.
//!
//! [`compile`] and [`query`] are the only way the renderer touches JSONPath, and the
//! compliance test (`tests/jsonpath_cts.rs`) drives exactly these two functions.

use serde_json::Value;
use serde_json_path::{JsonPath, ParseError};

/// What the first segment of a path selects from the payload object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRoot {
    /// A child segment made only of name selectors: `$.user`, `$['user']`, `$["a","b"]`,
    /// `$.tags[0]` (root `tags`). These names can be checked against the event schema.
    Fields(Vec<String>),
    /// Anything else: `$` alone, `$..x`, `$.*`, `$[*]`, `$[0]`, `$[?@ == 'x']`, or a bracket
    /// that mixes names with other selectors. Nothing to check against the schema.
    Unchecked,
}

/// A parsed JSONPath with its source text (kept for display and serialisation, since the
/// parsed form does not round-trip to the same text).
#[derive(Debug, Clone)]
pub struct CompiledPath {
    source: String,
    path: JsonPath,
    root: PathRoot,
}

impl CompiledPath {
    /// The text the path was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The payload field(s) the path starts from, if they can be named.
    pub fn root(&self) -> &PathRoot {
        &self.root
    }
}

impl PartialEq for CompiledPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl std::fmt::Display for CompiledPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses a JSONPath query (RFC 9535; no leading or trailing blanks, as the RFC requires).
pub fn compile(source: &str) -> Result<CompiledPath, ParseError> {
    let path = JsonPath::parse(source)?;
    Ok(CompiledPath {
        source: source.to_owned(),
        path,
        root: root_of(source),
    })
}

/// The nodes the path selects in `payload`, in RFC 9535 order, as owned values.
pub fn query(path: &CompiledPath, payload: &Value) -> Vec<Value> {
    path.path
        .query(payload)
        .all()
        .into_iter()
        .cloned()
        .collect()
}

/// Reads the first segment of an already-valid path. `serde_json_path` keeps its syntax tree
/// private, so this is a small scanner over the RFC 9535 grammar for that one segment; it
/// only has to handle valid text because [`compile`] parsed it first.
fn root_of(source: &str) -> PathRoot {
    let rest = source.strip_prefix('$').unwrap_or(source);
    let rest = rest.trim_start_matches(is_blank);
    if let Some(after_dot) = rest.strip_prefix('.') {
        if after_dot.starts_with('.') || after_dot.starts_with('*') {
            return PathRoot::Unchecked;
        }
        let end = after_dot
            .find(|c: char| !is_name_char(c))
            .unwrap_or(after_dot.len());
        return PathRoot::Fields(vec![after_dot[..end].to_owned()]);
    }
    let Some(mut inside) = rest.strip_prefix('[') else {
        return PathRoot::Unchecked;
    };
    let mut names = Vec::new();
    loop {
        inside = inside.trim_start_matches(is_blank);
        let Some((name, after)) = string_literal(inside) else {
            return PathRoot::Unchecked;
        };
        names.push(name);
        inside = after.trim_start_matches(is_blank);
        match inside.chars().next() {
            Some(',') => inside = &inside[1..],
            Some(']') => return PathRoot::Fields(names),
            _ => return PathRoot::Unchecked,
        }
    }
}

/// RFC 9535 blank space: space, tab, line feed, carriage return.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// RFC 9535 `name-char`: ALPHA / DIGIT / "_" / any non-ASCII character.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()
}

/// Decodes a quoted name selector at the start of `text` and returns it with the text after
/// the closing quote. RFC 9535 escapes are JSON's, plus `\'` inside single quotes, so the
/// literal is rewritten as a JSON string and decoded by serde_json.
fn string_literal(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let mut json = String::from("\"");
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            if c != '\'' {
                json.push('\\');
            }
            json.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            json.push('"');
            let name = serde_json::from_str(&json).ok()?;
            return Some((name, &text[i + c.len_utf8()..]));
        } else {
            if c == '"' {
                json.push('\\');
            }
            json.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn root(source: &str) -> PathRoot {
        match compile(source) {
            Ok(p) => p.root().clone(),
            Err(e) => panic!("{source}: {e}"),
        }
    }

    fn fields(names: &[&str]) -> PathRoot {
        PathRoot::Fields(names.iter().map(|n| (*n).to_owned()).collect())
    }

    #[test]
    fn root_field_of_common_forms() {
        assert_eq!(root("$.user"), fields(&["user"]));
        assert_eq!(root("$['user']"), fields(&["user"]));
        assert_eq!(root("$[\"user\"]"), fields(&["user"]));
        assert_eq!(root("$.tags[0]"), fields(&["tags"]));
        assert_eq!(root("$.tags.length"), fields(&["tags"]));
        assert_eq!(root("$ .user"), fields(&["user"]));
        assert_eq!(root("$[ 'a' , \"b\" ]"), fields(&["a", "b"]));
        assert_eq!(root("$['it\\'s']"), fields(&["it's"]));
        assert_eq!(root("$[\"q\\\"\"]"), fields(&["q\""]));
        assert_eq!(root("$['say \"hi\"']"), fields(&["say \"hi\""]));
        assert_eq!(root("$['\\u00e9t\\u00E9']"), fields(&["été"]));
        assert_eq!(root("$['a]b'][0]"), fields(&["a]b"]));
        assert_eq!(root("$.été"), fields(&["été"]));
        for unchecked in [
            "$",
            "$..user",
            "$.*",
            "$[*]",
            "$[0]",
            "$[?@ == 'x']",
            "$['a', 0]",
            "$[0:2]",
        ] {
            assert_eq!(root(unchecked), PathRoot::Unchecked, "{unchecked}");
        }
    }

    #[test]
    fn query_returns_nodes_in_order() {
        let payload = json!({"tags": ["pci", "prod"], "n": 3});
        let q = |s: &str| compile(s).map(|p| query(&p, &payload)).ok();
        assert_eq!(q("$.tags[*]"), Some(vec![json!("pci"), json!("prod")]));
        assert_eq!(q("$.n"), Some(vec![json!(3)]));
        assert_eq!(q("$.missing"), Some(vec![]));
    }

    #[test]
    fn bad_paths_fail_to_compile() {
        for bad in [
            "",
            "user",
            "$.",
            "$[",
            " $.user",
            "$.user ",
            "$.a[?(@.b)",
            "$['a",
        ] {
            assert!(compile(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keeps_source_text() {
        let p = compile("$[\"user\"]");
        assert_eq!(
            p.map(|p| p.to_string()).ok().as_deref(),
            Some("$[\"user\"]")
        );
    }
}
