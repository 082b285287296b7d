//! A property-based fuzz of the API from its own OpenAPI document: for every documented
//! operation, path parameters, query parameters and bodies are generated (well-formed per the
//! schema, wrong types, arbitrary JSON, arbitrary bytes), sent with an admin token, and no
//! answer may be a 5xx. Every answer that is an error must be the documented JSON error shape.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use axum::http::Method;
use chimera_ports::Role;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Values for a schema's properties: mostly plausible, sometimes of the wrong type.
fn body_for(schema: &Value, components: &Value) -> BoxedStrategy<String> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => components[r.trim_start_matches("#/components/schemas/")].clone(),
        None => schema.clone(),
    };
    let props: Vec<(String, Value)> = schema["properties"]
        .as_object()
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
        .into_iter()
        .map(|(name, prop)| {
            let plausible: BoxedStrategy<Value> =
                match (prop["enum"].as_array(), prop["type"].as_str()) {
                    (Some(options), _) => prop::sample::select(options.clone()).boxed(),
                    (None, Some("integer")) => (-5_i64..5_000_000).prop_map(|n| json!(n)).boxed(),
                    (None, Some("boolean")) => any::<bool>().prop_map(Value::Bool).boxed(),
                    (None, Some("string")) => {
                        "[A-Za-z0-9._:-]{0,20}".prop_map(Value::String).boxed()
                    }
                    _ => any_json().boxed(),
                };
            let value = prop_oneof![4 => plausible, 1 => any_json()];
            prop::option::weighted(0.8, value.prop_map(move |v| (name.clone(), v))).boxed()
        })
        .collect();
    let shaped = fields.prop_map(|pairs| {
        Value::Object(pairs.into_iter().flatten().collect::<Map<_, _>>()).to_string()
    });
    prop_oneof![
        6 => shaped,
        1 => any_json().prop_map(|v| v.to_string()),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

fn path_param() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._:-]{1,20}",
        "[^/?#]{1,30}".prop_map(|s| {
            s.bytes().fold(String::new(), |mut out, b| {
                let _ = write!(out, "%{b:02X}");
                out
            })
        }),
        Just("nobody".to_owned()),
    ]
}

fn query(params: &[Value]) -> BoxedStrategy<String> {
    let names: Vec<String> = params
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .chain(["junk".to_owned()])
        .collect();
    prop::collection::vec(
        (
            prop::sample::select(names),
            prop_oneof!["-?[0-9]{1,12}", "[a-z%]{0,8}"],
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
    .boxed()
}

#[test]
fn no_generated_request_gets_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = runtime.block_on(support::api("fuzz", 1_000_000));
    // Something to find: a portfolio and a kill switch.
    runtime.block_on(async {
        let config = format!(r#"{{"config":{}}}"#, support::portfolio_config("p1"));
        api.call(
            Method::POST,
            "/v1/portfolios",
            Some(Role::Admin),
            Some(&config),
        )
        .await;
    });
    let (_, doc) =
        runtime.block_on(api.call(Method::GET, "/v1/openapi.json", Some(Role::Admin), None));
    let components = doc["components"]["schemas"].clone();
    let mut operations = 0;
    let sent = std::sync::atomic::AtomicUsize::new(0);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations += 1;
            let method: Method = method.to_uppercase().parse().unwrap();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
            let body = if body.is_null() {
                Just(String::new()).boxed()
            } else {
                body_for(&body, &components)
            };
            let strategy = (path_param(), query(&params), body);
            let mut runner = TestRunner::new(Config {
                cases: 24,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(&strategy, |(param, query, body)| {
                    let uri = format!("{}?{query}", path.replace("{id}", &param));
                    let body = (!body.is_empty()).then_some(body.as_str());
                    let (status, answer) =
                        runtime.block_on(api.call(method.clone(), &uri, Some(Role::Admin), body));
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    prop_assert!(
                        !status.is_server_error(),
                        "{method} {uri} {body:?}: {status} {answer}"
                    );
                    if status.is_client_error() {
                        prop_assert!(
                            answer["error"].is_string() && answer["message"].is_string(),
                            "{method} {uri}: {answer}"
                        );
                    }
                    Ok(())
                })
                .unwrap();
        }
    }
    println!(
        "{} generated requests over {operations} documented operations: no 5xx",
        sent.into_inner()
    );
}
