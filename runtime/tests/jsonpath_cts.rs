//! The RFC 9535 JSONPath Compliance Test Suite, run through the mapping code's own
//! `compile` and `query` (the functions the renderer uses), so a change of JSONPath library
//! or of how paths are evaluated shows up here. The suite's copy lives in the shared data
//! directory next to the repository: `../shared/data/jsonpath-cts.json`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::PathBuf;

use runbox::routing::{compile, query};
use serde_json::Value;

fn suite_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/jsonpath-cts.json")
}

#[test]
fn rfc9535_compliance_suite() {
    let path = suite_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the JSONPath compliance suite at {}: {e} \
             (expected shared/data/jsonpath-cts.json beside the repository)",
            path.display()
        )
    });
    let suite: Value = serde_json::from_str(&text).expect("the suite is JSON");
    let cases = suite["tests"]
        .as_array()
        .expect("the suite has a `tests` array");
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let selector = case["selector"].as_str().unwrap_or_default();
        match check(case, selector) {
            Ok(()) => passed += 1,
            Err(why) => {
                failed += 1;
                println!("FAIL {name:?} {selector:?}: {why}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    assert_eq!(passed + failed, cases.len());
    assert_eq!(
        failed, 0,
        "{failed} compliance case(s) failed (see FAIL lines above)"
    );
}

/// One case: an invalid selector must not compile; a valid one must compile and select
/// `result`, or one of the allowed orders in `results`.
fn check(case: &Value, selector: &str) -> Result<(), String> {
    let compiled = compile(selector);
    if case["invalid_selector"].as_bool() == Some(true) {
        return match compiled {
            Err(_) => Ok(()),
            Ok(_) => Err("compiled, but the selector is invalid".to_owned()),
        };
    }
    let compiled = compiled.map_err(|e| format!("does not compile: {e}"))?;
    let got = Value::Array(query(&compiled, &case["document"]));
    let allowed: Vec<&Value> = match (case.get("result"), case.get("results")) {
        (Some(one), _) => vec![one],
        (None, Some(Value::Array(many))) => many.iter().collect(),
        _ => return Err("case has neither `result` nor `results`".to_owned()),
    };
    if allowed.contains(&&got) {
        Ok(())
    } else {
        Err(format!("got {got}, expected one of {allowed:?}"))
    }
}
