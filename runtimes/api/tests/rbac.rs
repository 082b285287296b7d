//! The permission matrix, route × role, cell by cell: without a token every route but health
//! is 401; with one, a role below the route's is 403 and a role at or above it is neither 401
//! nor 403 (nor a 5xx, nor 404/405: the route exists). Every mutating call, refused ones too,
//! leaves one audit record naming the token, the route and the outcome.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use axum::http::{Method, StatusCode};
use chimera_api::routes::ROUTES;
use chimera_ports::Role;
use serde_json::Value;

fn concrete(path: &str) -> String {
    path.replace("{id}", "nobody")
}

fn body_for(route: &chimera_api::routes::RouteSpec) -> Option<&'static str> {
    route.body.map(|_| "{}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_role_is_allowed_or_refused_as_the_table_says() {
    let api = support::api("rbac", 10_000).await;
    let mut mutating_calls = 0;
    let mut cells = 0;
    for route in ROUTES {
        let uri = concrete(route.path);
        let (status, _) = api
            .call(route.method.clone(), &uri, None, body_for(route))
            .await;
        if route.role.is_none() {
            assert_eq!(
                status,
                StatusCode::OK,
                "{} {} without a token",
                route.method,
                route.path
            );
        } else {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {} without a token",
                route.method,
                route.path
            );
        }
        for role in Role::ALL {
            cells += 1;
            let (status, body) = api
                .call(route.method.clone(), &uri, Some(role), body_for(route))
                .await;
            let allowed = route.role.is_none_or(|needed| role >= needed);
            let what = format!(
                "{} {} as {}: {status} {body}",
                route.method,
                route.path,
                role.as_str()
            );
            if allowed {
                let missing_route = status == StatusCode::NOT_FOUND
                    && body["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no such route"));
                assert!(
                    ![401, 403, 405].contains(&status.as_u16()) && !missing_route,
                    "{what}"
                );
                assert!(!status.is_server_error(), "{what}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
            }
            if route.mutating() {
                mutating_calls += 1;
            }
        }
    }
    println!(
        "{cells} cells of {} routes × {} roles checked",
        ROUTES.len(),
        Role::ALL.len()
    );

    let (status, audit) = api
        .call(Method::GET, "/v1/audit?limit=1000", Some(Role::Admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let records = audit.as_array().unwrap();
    assert_eq!(
        records.len(),
        mutating_calls,
        "one record per mutating call"
    );
    let forbidden = records
        .iter()
        .filter(|r| r["category"] == "forbidden")
        .count();
    let expected_forbidden: usize = ROUTES
        .iter()
        .filter(|r| r.mutating())
        .map(|r| {
            Role::ALL
                .iter()
                .filter(|role| r.role.is_some_and(|n| **role < n))
                .count()
        })
        .sum();
    assert_eq!(forbidden, expected_forbidden);
    let one = &records[0]["body"];
    for field in [
        "token_id",
        "token_name",
        "role",
        "method",
        "route",
        "path",
        "status",
        "outcome",
    ] {
        assert!(
            one.get(field).is_some_and(|v| !v.is_null()),
            "audit body has {field}: {one}"
        );
    }
    let (status, forbidden_only) = api
        .call(
            Method::GET,
            "/v1/audit?outcome=forbidden&limit=1000",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        forbidden_only.as_array().map(Vec::len),
        Some(expected_forbidden)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_routes() {
    let api = support::api("openapi", 10_000).await;
    let (status, doc) = api
        .call(Method::GET, "/v1/openapi.json", Some(Role::Viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut routes: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
    // Every body a route takes has its schema.
    for route in ROUTES.iter().filter_map(|r| r.body) {
        assert!(doc["components"]["schemas"][route].is_object(), "{route}");
    }
    // A path the router does not have is 404 to a caller with a token, 401 to one without.
    let (status, body) = api
        .call(Method::GET, "/v1/nothing", Some(Role::Viewer), None)
        .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &Value::from("not_found"))
    );
    let (status, _) = api.call(Method::GET, "/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A known path with another method: 405.
    let (status, _) = api
        .call(Method::PATCH, "/v1/portfolios", Some(Role::Admin), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
