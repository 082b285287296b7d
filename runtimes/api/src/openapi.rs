//! The OpenAPI 3.0 document, built from [`crate::table::ROUTES`] with the request bodies'
//! schemas; served at `/v1/openapi.json`. A test checks that every documented operation
//! answers (no 404 or 405) and every route is documented.

use crate::table::{RouteSpec, ROUTES};
use axum::Json;
use serde_json::{json, Map, Value};

fn schemas() -> Value {
    let id = json!({"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"});
    let text = json!({"type": "string", "minLength": 1, "maxLength": 1000});
    json!({
        "PortfolioCreate": {
            "type": "object", "additionalProperties": false, "required": ["config"],
            "properties": {
                "config": {"$ref": "#/components/schemas/PortfolioSpec"},
                "start": {"type": "boolean", "description": "place it at once (default: stopped)"}
            }
        },
        "PortfolioConfig": {
            "type": "object", "additionalProperties": false, "required": ["config"],
            "properties": {"config": {"$ref": "#/components/schemas/PortfolioSpec"}}
        },
        "PortfolioSpec": {
            "type": "object", "required": ["id", "strategy"],
            "description": "a [[portfolios]] entry of the configuration, as JSON",
            "properties": {
                "id": id, "strategy": {"type": "string"},
                "params": {"type": "object", "additionalProperties": {"type": "string"}},
                "instruments": {"type": "array", "items": {"type": "object"}},
                "balances": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
        "Pause": {
            "type": "object", "additionalProperties": false, "required": ["reason"],
            "properties": {"reason": text}
        },
        "Migrate": {
            "type": "object", "additionalProperties": false, "required": ["to_node"],
            "properties": {"to_node": id}
        },
        "KillSwitchEngage": {
            "type": "object", "additionalProperties": false, "required": ["mode", "scope", "reason"],
            "properties": {
                "id": id,
                "mode": {"type": "string", "enum": ["halt_entries", "reduce_only", "cancel_all", "flatten"]},
                "scope": {"type": "string", "enum": ["global", "portfolio", "symbol"]},
                "portfolio_id": id, "symbol": id, "reason": text,
                "ttl_secs": {"type": "integer", "minimum": 1, "maximum": 2_592_000}
            }
        },
        "TokenCreate": {
            "type": "object", "additionalProperties": false, "required": ["name", "role"],
            "properties": {
                "name": text,
                "role": {"type": "string", "enum": ["viewer", "trader", "admin"]},
                "ttl_days": {"type": "integer", "minimum": 1, "maximum": 3650}
            }
        },
        "Error": {
            "type": "object", "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "fields": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "problem": {"type": "string"}}}}
            }
        }
    })
}

fn operation(route: &RouteSpec) -> Value {
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}})
        })
        .collect();
    parameters.extend(route.query.iter().map(|q| {
        json!({"name": q.name, "in": "query", "required": false, "description": q.about,
               "schema": {"type": q.kind}})
    }));
    let error = json!({"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "done", "content": {"application/json": {"schema": {}}}}),
    );
    if route.method != axum::http::Method::GET {
        responses.insert("201".into(), json!({"description": "created"}));
        responses.insert(
            "202".into(),
            json!({"description": "sent, not yet acknowledged"}),
        );
        responses.insert("409".into(), error.clone());
    }
    for code in ["400", "404", "503"] {
        responses.insert(code.into(), error.clone());
    }
    let mut op = json!({
        "summary": route.summary,
        "operationId": format!("{}{}", route.method.as_str().to_lowercase(), route.path.replace(['/', '{', '}', '.', '-'], "_")),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(role) = route.role {
        op["security"] = json!([{"bearer": []}]);
        op["description"] = json!(format!("Needs the {} role or higher.", role.as_str()));
        op["responses"]["401"] = error.clone();
        op["responses"]["403"] = error.clone();
        op["responses"]["429"] = error;
    } else {
        op["security"] = json!([]);
    }
    if let Some(body) = route.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
    }
    op
}

/// The document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method.as_str().to_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Chimera API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Portfolios, nodes, records, alerts, kill switch and tokens. Every route but /health needs `Authorization: Bearer <token>`; tokens come from `chimera-api token create` or POST /v1/tokens."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}

pub(crate) async fn document() -> Json<Value> {
    Json(build())
}
