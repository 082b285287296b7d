//! Request bodies: read as JSON objects and checked field by field, so a bad request is
//! answered with every bad field at once (serde's derive stops at the first).

use crate::error::{ApiError, FieldProblem};
use axum::body::Bytes;
use serde_json::{Map, Value};

/// A JSON object body being checked. Collects problems; [`Fields::finish`] answers them.
pub struct Fields {
    map: Map<String, Value>,
    problems: Vec<FieldProblem>,
}

impl Fields {
    /// Parses `bytes` as a JSON object whose keys are all in `known`.
    ///
    /// # Errors
    /// 400 when the body is not a JSON object (field `body`).
    pub fn parse(bytes: &Bytes, known: &[&str]) -> Result<Self, ApiError> {
        let value: Value = if bytes.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| ApiError::field("body", format!("not JSON: {e}")))?
        };
        let Value::Object(map) = value else {
            return Err(ApiError::field("body", "must be a JSON object"));
        };
        let problems = unknown(map.keys(), known, "field");
        Ok(Self { map, problems })
    }

    /// Records a problem with `field`.
    pub fn problem(&mut self, field: &str, problem: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// A string field; `required` ones missing are a problem. Empty or blank strings are
    /// refused, and so is anything over 1000 characters.
    pub fn string(&mut self, field: &str, required: bool) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "required");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.problem(field, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > 1000 => {
                self.problem(field, "longer than 1000 characters");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(field, "must be a string");
                None
            }
        }
    }

    /// An optional whole number within `range`.
    pub fn integer(&mut self, field: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let value = n.as_u64().filter(|v| range.contains(v));
                if value.is_none() {
                    let problem = format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    );
                    self.problem(field, problem);
                }
                value
            }
            Some(_) => {
                self.problem(field, "must be a number");
                None
            }
        }
    }

    /// An optional boolean (absent: `false`).
    pub fn flag(&mut self, field: &str) -> bool {
        match self.map.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(field, "must be true or false");
                false
            }
        }
    }

    /// A field's raw value, taken out.
    pub fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field)
    }

    /// `Ok` when nothing was wrong.
    ///
    /// # Errors
    /// 400 listing every problem.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.problems))
        }
    }
}

/// What an identifier must be (see [`valid_id`]).
pub const ID_RULE: &str = "1 to 128 letters, digits or -_.: characters";

/// `id` (a path's or a body's `field`) checked with [`valid_id`].
///
/// # Errors
/// 400 naming `field`.
pub fn check_id(id: &str, field: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::field(field, ID_RULE))
    }
}

/// One problem per name of `names` that is not in `known` (`what`: "field", "query parameter").
pub fn unknown<'a>(
    names: impl Iterator<Item = &'a String>,
    known: &[&str],
    what: &str,
) -> Vec<FieldProblem> {
    names
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| FieldProblem {
            field: k.clone(),
            problem: format!("unknown {what} (known: {})", known.join(", ")),
        })
        .collect()
}

/// An identifier taken from a path or a body: 1 to 128 characters of letters, digits and
/// `-_.:`.
pub fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}
