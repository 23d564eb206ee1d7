//! Tests of [`super`]: the schema-only mirrors against the real types.

/// Helpers, and the mirrors of store, runtime and auth types.
mod store_runtime_auth {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use crate::api::openapi::document;
    use crate::auth::{Role, TokenInfo};
    use crate::model::{
        Dispatch, DispatchError, DispatchStatus, Subscription, SubscriptionStatus, Timestamp,
    };
    use crate::runtime::{PublishReceipt, SubscriptionView};
    use crate::store::{DispatchDetail, Page, SubscriptionStats};

    /// The property names of component `name`, `allOf` parts and `$ref`s followed.
    pub(super) fn properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            properties(doc, &doc["components"]["schemas"][name], out);
        }
        for combined in ["allOf", "oneOf"] {
            for part in schema[combined].as_array().into_iter().flatten() {
                properties(doc, part, out);
            }
        }
        for key in schema["properties"].as_object().into_iter().flatten() {
            out.insert(key.0.clone());
        }
    }

    pub(super) fn schema_keys(name: &str) -> BTreeSet<String> {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let mut out = BTreeSet::new();
        properties(&doc, &doc["components"]["schemas"][name], &mut out);
        out
    }

    /// The values of the string enum component `name`.
    pub(super) fn enum_values(name: &str) -> BTreeSet<String> {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let values = doc["components"]["schemas"][name]["enum"].clone();
        serde_json::from_value(values).unwrap_or_default()
    }

    /// What `values` serialize to (each a JSON string).
    pub(super) fn wire<T: serde::Serialize>(values: &[T]) -> BTreeSet<String> {
        values
            .iter()
            .map(|v| match serde_json::to_value(v) {
                Ok(Value::String(s)) => s,
                other => panic!("not a string: {other:?}"),
            })
            .collect()
    }

    /// The keys of `value` serialized (every optional field set, so none is skipped).
    pub(super) fn keys(value: impl serde::Serialize) -> BTreeSet<String> {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => map.keys().cloned().collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn dispatch() -> Dispatch {
        let t = Timestamp::from_millis(1);
        Dispatch {
            id: "dsp_1".into(),
            org: "acme".into(),
            event_id: "evt_1".into(),
            subscription_id: "sub_1".into(),
            status: DispatchStatus::Failed,
            attempt: 1,
            last_error: Some(DispatchError::new("guest_error", "boom", false)),
            replayed_from: Some("dsp_0".into()),
            created_at: t,
            dispatched_at: Some(t),
            finished_at: Some(t),
            duration_ms: Some(1),
            due_at: t,
            lease_until: Some(t),
            fuel_used: Some(1),
            peak_memory_bytes: Some(1),
            commit_sha: Some("abc".into()),
            output_excerpt: Some("out".into()),
        }
    }

    #[test]
    fn mirrors_name_the_keys_the_real_types_serialize() {
        let t = Timestamp::from_millis(1);
        let subscription = Subscription {
            id: "sub_1".into(),
            org: "acme".into(),
            name: "n".into(),
            description: String::new(),
            event_types: vec!["session.closed".into()],
            runbook_repository: "r".into(),
            runbook_file: "f".into(),
            connection_name: "c".into(),
            parameter_mapping: Default::default(),
            status: SubscriptionStatus::Active,
            retry_policy: None,
            created_by: "token:x".into(),
            created_at: t,
            updated_at: t,
        };
        let mut with_policy = keys(&subscription);
        with_policy.insert("retry_policy".into());
        assert_eq!(schema_keys("Subscription"), with_policy);
        assert_eq!(keys(dispatch()), schema_keys("Dispatch"));
        let view = SubscriptionView {
            subscription,
            stats: SubscriptionStats {
                delivered_count_7d: 1,
                failed_count_7d: 1,
                last_error: Some(DispatchError::new("guest_error", "boom", false)),
            },
        };
        let mut view_keys = keys(&view);
        view_keys.insert("retry_policy".into());
        assert_eq!(view_keys, schema_keys("SubscriptionWithStats"));
        let detail = DispatchDetail {
            dispatch: dispatch(),
            event_payload: Value::Null,
            subscription_name: "n".into(),
        };
        assert_eq!(keys(&detail), schema_keys("DispatchWithEvent"));
        let page = Page {
            items: vec![dispatch()],
            total: 1,
            page: 1,
            limit: 50,
        };
        assert_eq!(keys(&page), schema_keys("DispatchPage"));
        let receipt = PublishReceipt {
            event_id: Some("evt_1".into()),
            dispatch_ids: Vec::new(),
            duplicate: false,
            feature_disabled: false,
        };
        assert_eq!(keys(&receipt), schema_keys("PublishAccepted"));
        let token = TokenInfo {
            id: "tok_1".into(),
            org: "acme".into(),
            role: Role::Admin,
            label: String::new(),
            created_at: t,
            created_by: "cli".into(),
            revoked_at: Some(t),
        };
        assert_eq!(keys(&token), schema_keys("ListedToken"));
    }
}

/// The mirrors of catalog, routing, hooks, repo, server and host-api types.
mod others {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::store_runtime_auth::{enum_values, keys, schema_keys, wire};
    use crate::catalog::{Catalog, Category, FieldType};
    use crate::hooks::{HookError, HookRun, OrgHookSettings};
    use crate::model::Timestamp;
    use crate::repo::{RefreshReport, RepoConfig, RepoKey, RepoStatus, StatusError};
    use crate::routing::{ParamError, ParamErrorCode, PreviewResult};
    use crate::server::repo_configs::{RepoConfigView, Source};

    #[test]
    fn catalog_and_preview_mirrors_match() {
        for entry in Catalog::builtin().list(None) {
            assert_eq!(keys(entry), schema_keys("CatalogEntry"), "{}", entry.name);
            for field in &entry.schema {
                assert_eq!(keys(field), schema_keys("FieldSpec"));
            }
        }
        assert_eq!(
            enum_values("Category"),
            wire(&[Category::Session, Category::Access, Category::Alert])
        );
        assert_eq!(
            enum_values("FieldType"),
            wire(&[FieldType::String, FieldType::Int, FieldType::StringArray])
        );
        let error = ParamError {
            param: "p".into(),
            code: ParamErrorCode::Missing,
            message: "m".into(),
        };
        assert_eq!(keys(&error), schema_keys("ParamError"));
        let preview = PreviewResult {
            params: Default::default(),
            errors: vec![error],
        };
        assert_eq!(keys(&preview), schema_keys("PreviewResult"));
        assert_eq!(
            enum_values("ParamErrorCode"),
            wire(&[
                ParamErrorCode::Missing,
                ParamErrorCode::Render,
                ParamErrorCode::InvalidMapping
            ])
        );
    }

    #[test]
    fn hook_mirrors_match() {
        let run = HookRun {
            id: "h".into(),
            exit_code: 1,
            output: String::new(),
            execution_time_sec: 0.5,
            sid: "s".into(),
            hook: "session-open".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            repository: Some("r".into()),
            commit: Some("c".into()),
            error: Some(HookError {
                code: "guest_error".into(),
                message: "m".into(),
            }),
            fuel_used: Some(1),
            peak_memory_bytes: Some(1),
        };
        assert_eq!(keys(&run), schema_keys("HookRun"));
        assert_eq!(keys(run.error), schema_keys("HookError"));
        assert_eq!(
            keys(OrgHookSettings::default()),
            schema_keys("HookSettings")
        );
    }

    #[test]
    fn repository_mirrors_match() {
        // Every documented key is accepted (the real type refuses unknown fields) and every
        // real key is documented.
        let body: Value = schema_keys("RepoConfig")
            .into_iter()
            .map(|k| {
                let v = match k.as_str() {
                    "hook_config_ttl" => json!(60),
                    _ => json!("x"),
                };
                (k, v)
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        let config: RepoConfig = serde_json::from_value(body.clone()).unwrap_or_else(|e| {
            panic!("{e}: {body}");
        });
        assert_eq!(keys(&config), schema_keys("RepoConfig"));

        let key = RepoKey::parse("https://github.com/acme/runbooks").unwrap_or_else(|e| {
            panic!("{e}");
        });
        let status = RepoStatus {
            org: "acme".into(),
            repository: key.clone(),
            url: "u".into(),
            branch: Some("main".into()),
            hooks_enabled: false,
            ttl: Duration::from_secs(60),
            commit: Some("c".into()),
            loaded: 1,
            failed: 0,
            last_fetch_at: Some("t".into()),
            last_success_at: Some("t".into()),
            snapshot_age: Some(Duration::from_secs(1)),
            stale: false,
            refreshing: false,
            last_error: Some(StatusError {
                code: "fetch_failed",
                message: "m".into(),
                at: "t".into(),
            }),
            fetches: 1,
        };
        assert_eq!(keys(&status), schema_keys("RepoStatus"));
        assert_eq!(keys(&status.last_error), schema_keys("RepoStatusError"));
        let view = RepoConfigView {
            id: "rc_1".into(),
            org: "acme".into(),
            source: Source::Api,
            repository: key,
            git_url: "u".into(),
            branch: None,
            git_user: None,
            git_ssh_user: None,
            hook_config_ttl: None,
            has_git_ssh_known_hosts: false,
            secrets_set: Vec::new(),
            created_at: Timestamp::from_millis(1),
            updated_at: Timestamp::from_millis(1),
            status: Some(status),
        };
        assert_eq!(keys(&view), schema_keys("RepoConfigView"));
        assert_eq!(
            enum_values("RepoConfigSource"),
            wire(&[Source::Config, Source::Api])
        );
        let mut report_keys = BTreeSet::new();
        for report in [
            RefreshReport::Fresh { commit: "c".into() },
            RefreshReport::Unchanged { commit: "c".into() },
            RefreshReport::Updated {
                from: Some("b".into()),
                to: "c".into(),
                loaded: 1,
                failed: 0,
            },
        ] {
            report_keys.extend(keys(&report));
        }
        assert_eq!(report_keys, schema_keys("RefreshReport"));
    }

    #[test]
    fn runbook_param_mirror_matches() {
        use runbox_host_api::{ParamKind, ParamSpec};
        let spec = ParamSpec {
            name: "p".into(),
            kind: ParamKind::Select,
            required: true,
            description: Some("d".into()),
            default: Some("1".into()),
            placeholder: Some("x".into()),
            options: vec!["a".into()],
            order: 1,
        };
        assert_eq!(keys(&spec), schema_keys("ParamSpec"));
        use ParamKind::*;
        let all = [
            Text, Number, Boolean, Json, Tel, Time, Date, Url, Email, Select, Textarea, Password,
            File,
        ];
        assert_eq!(enum_values("ParamKind"), wire(&all));
    }
}
