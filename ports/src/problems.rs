//! [`Problems`]: the one way Chimera validates configuration — every problem is collected and
//! reported at once, each as `field: what is wrong`, so a user fixes a file in one pass instead
//! of one error per run. Adapters validate their own settings with it; a composition root
//! nests those under the section's name with [`Problems::nest`].

use std::fmt;

/// Problems found so far, one line each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    lines: Vec<String>,
}

impl Problems {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong, and why.
    pub fn push(&mut self, field: impl fmt::Display, problem: impl fmt::Display) {
        self.lines.push(format!("{field}: {problem}"));
    }

    /// Records `problem` for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: impl fmt::Display, problem: impl fmt::Display) {
        if !ok {
            self.push(field, problem);
        }
    }

    /// Adds `lines` (each already `field: problem`) under `prefix`: `prefix.field: problem`.
    pub fn nest(&mut self, prefix: &str, lines: impl IntoIterator<Item = String>) {
        self.lines
            .extend(lines.into_iter().map(|line| format!("{prefix}.{line}")));
    }

    /// Adds `lines` as they are.
    pub fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        self.lines.extend(lines);
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines, in the order found.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// `Ok(value)` when nothing is wrong.
    ///
    /// # Errors
    /// Every line collected.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.lines.is_empty() {
            Ok(value)
        } else {
            Err(self.lines)
        }
    }
}

impl From<Problems> for Vec<String> {
    fn from(problems: Problems) -> Self {
        problems.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem_with_its_field() {
        let mut p = Problems::new();
        p.check(true, "a", "never");
        p.check(false, "b", "must be ≥ 1");
        p.nest("bus", vec!["brokers: missing".to_owned()]);
        assert_eq!(
            p.clone().finish(()),
            Err(vec![
                "b: must be ≥ 1".to_owned(),
                "bus.brokers: missing".to_owned()
            ])
        );
        assert_eq!(Problems::new().finish(7), Ok(7));
    }
}
