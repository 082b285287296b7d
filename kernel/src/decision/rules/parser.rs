//! A recursive-descent parser from tokens to typed [`Rule`]s.
//!
//! ```text
//! rules    := rule*
//! rule     := "rule" (NAME | STRING) ["priority" ["-"] INT] ["when" expr] "then" action ("," action)* [";"]
//! action   := "skip_entry" | ("size_mult" | "tp_mult" | "sl_mult") NUMBER | "max_adds_override" INT
//! expr     := and ("or" and)*
//! and      := not ("and" not)*
//! not      := "not" not | cmp
//! cmp      := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]
//! sum      := product (("+" | "-") product)*
//! product  := unary (("*" | "/") unary)*
//! unary    := "-" unary | atom
//! atom     := NUMBER | STRING | "true" | "false" | VARIABLE | call | "(" expr ")"
//! call     := NAME "(" [expr ("," expr)*] ")"
//! ```
//!
//! Nesting is limited to 64 levels so hostile input cannot exhaust the stack.

use super::ast::{Arith, Cmp, Expr, Rule, RuleAction, Type, Var};
use super::lexer::{Pos, Tok};
use super::RuleError;
use rust_decimal::Decimal;
use std::str::FromStr;

const MAX_DEPTH: usize = 64;
/// The most values and operators one condition may have (evaluation recurses over them).
const MAX_NODES: usize = 1000;
const KEYWORDS: [&str; 9] = [
    "rule", "priority", "when", "then", "and", "or", "not", "true", "false",
];

pub(crate) struct Parser {
    tokens: Vec<(Tok, Pos)>,
    at: usize,
    depth: usize,
    nodes: usize,
}

impl Parser {
    pub(crate) fn new(tokens: Vec<(Tok, Pos)>) -> Self {
        Self {
            tokens,
            at: 0,
            depth: 0,
            nodes: 0,
        }
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].0
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at.min(self.tokens.len() - 1)].1
    }

    fn bump(&mut self) -> (Tok, Pos) {
        let token = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn expect_word(&mut self, word: &str, context: &str) -> Result<(), RuleError> {
        if self.is_word(word) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{word}` {context}")))
        }
    }

    fn unexpected(&self, wanted: &str) -> RuleError {
        RuleError::at(
            self.pos(),
            format!("expected {wanted}, found {}", self.peek().describe()),
        )
    }

    pub(crate) fn rules(&mut self) -> Result<Vec<Rule>, RuleError> {
        let mut rules: Vec<Rule> = Vec::new();
        while *self.peek() != Tok::Eof {
            let rule = self.rule()?;
            if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
                return Err(RuleError {
                    line: rule.line,
                    column: 1,
                    message: format!(
                        "rule `{}` is defined twice (first on line {})",
                        rule.name, first.line
                    ),
                });
            }
            rules.push(rule);
        }
        Ok(rules)
    }

    fn rule(&mut self) -> Result<Rule, RuleError> {
        let start = self.pos();
        self.expect_word("rule", "to start a rule")?;
        let name = match self.bump() {
            (Tok::Ident(name), _) if !KEYWORDS.contains(&name.as_str()) => name,
            (Tok::Str(name), _) if !name.trim().is_empty() => name,
            (token, pos) => {
                return Err(RuleError::at(
                    pos,
                    format!("expected the rule's name, found {}", token.describe()),
                ))
            }
        };
        let mut priority = 0;
        if self.is_word("priority") {
            self.bump();
            let negative = *self.peek() == Tok::Minus;
            if negative {
                self.bump();
            }
            let (token, pos) = self.bump();
            let value = match &token {
                Tok::Number(n) => n.parse::<i64>().ok(),
                _ => None,
            };
            let Some(value) = value.filter(|v| v.unsigned_abs() <= 1_000_000) else {
                return Err(RuleError::at(
                    pos,
                    format!(
                        "a priority is a whole number from -1000000 to 1000000, found {}",
                        token.describe()
                    ),
                ));
            };
            priority = if negative { -value } else { value };
        }
        let condition = if self.is_word("when") {
            self.bump();
            let pos = self.pos();
            self.nodes = 0;
            let (expr, ty) = self.expr()?;
            if ty != Type::Bool {
                return Err(RuleError::at(
                    pos,
                    format!("a condition must be true/false, this is {}", ty.name()),
                ));
            }
            expr
        } else {
            Expr::Bool(true)
        };
        self.expect_word("then", "before the rule's actions")?;
        let mut actions = vec![self.action()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            actions.push(self.action()?);
        }
        if *self.peek() == Tok::Semi {
            self.bump();
        }
        if !(self.is_word("rule") || *self.peek() == Tok::Eof) {
            return Err(self.unexpected("`,` and another action, or the next `rule`"));
        }
        Ok(Rule {
            name,
            priority,
            condition,
            actions,
            line: start.line,
        })
    }

    fn action(&mut self) -> Result<RuleAction, RuleError> {
        let (token, pos) = self.bump();
        let Tok::Ident(word) = token else {
            return Err(RuleError::at(
                pos,
                format!(
                    "expected an action (skip_entry, size_mult, tp_mult, sl_mult, max_adds_override), found {}",
                    token.describe()
                ),
            ));
        };
        let multiplier = |parser: &mut Self, name: &str| -> Result<Decimal, RuleError> {
            let (token, pos) = parser.bump();
            let value = match &token {
                Tok::Number(n) => Decimal::from_str(n).ok(),
                _ => None,
            };
            value
                .filter(|v| *v > Decimal::ZERO && *v <= Decimal::ONE_HUNDRED)
                .ok_or_else(|| {
                    RuleError::at(
                        pos,
                        format!(
                            "{name} takes a number above 0 and at most 100, found {}",
                            token.describe()
                        ),
                    )
                })
        };
        Ok(match word.as_str() {
            "skip_entry" => RuleAction::SkipEntry,
            "size_mult" => RuleAction::SizeMult(multiplier(self, "size_mult")?),
            "tp_mult" => RuleAction::TpMult(multiplier(self, "tp_mult")?),
            "sl_mult" => RuleAction::SlMult(multiplier(self, "sl_mult")?),
            "max_adds_override" => {
                let (token, pos) = self.bump();
                let value = match &token {
                    Tok::Number(n) => n.parse::<u32>().ok().filter(|v| *v <= 100),
                    _ => None,
                };
                RuleAction::MaxAddsOverride(value.ok_or_else(|| {
                    RuleError::at(
                        pos,
                        format!(
                            "max_adds_override takes a whole number from 0 to 100, found {}",
                            token.describe()
                        ),
                    )
                })?)
            }
            other => {
                return Err(RuleError::at(
                    pos,
                    format!("unknown action `{other}` (skip_entry, size_mult, tp_mult, sl_mult, max_adds_override)"),
                ))
            }
        })
    }

    fn count_node(&mut self) -> Result<(), RuleError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(RuleError::at(
                self.pos(),
                format!("a condition has more than {MAX_NODES} values and operators"),
            ));
        }
        Ok(())
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, RuleError>,
    ) -> Result<T, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::at(
                self.pos(),
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self) -> Result<(Expr, Type), RuleError> {
        self.nested(|p| {
            let (mut left, ty) = p.and()?;
            while p.is_word("or") {
                let pos = p.pos();
                p.bump();
                p.count_node()?;
                let (right, rty) = p.and()?;
                both_bool(pos, "or", ty, rty)?;
                left = Expr::Or(Box::new(left), Box::new(right));
            }
            Ok((left, ty))
        })
    }

    fn and(&mut self) -> Result<(Expr, Type), RuleError> {
        let (mut left, ty) = self.not()?;
        while self.is_word("and") {
            let pos = self.pos();
            self.bump();
            self.count_node()?;
            let (right, rty) = self.not()?;
            both_bool(pos, "and", ty, rty)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok((left, ty))
    }

    fn not(&mut self) -> Result<(Expr, Type), RuleError> {
        if self.is_word("not") {
            let pos = self.pos();
            self.bump();
            self.count_node()?;
            return self.nested(|p| {
                let (inner, ty) = p.not()?;
                if ty != Type::Bool {
                    return Err(RuleError::at(
                        pos,
                        format!("`not` needs true/false, found {}", ty.name()),
                    ));
                }
                Ok((Expr::Not(Box::new(inner)), Type::Bool))
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<(Expr, Type), RuleError> {
        let (left, lty) = self.sum()?;
        let op = match self.peek() {
            Tok::Lt => Cmp::Lt,
            Tok::Le => Cmp::Le,
            Tok::Gt => Cmp::Gt,
            Tok::Ge => Cmp::Ge,
            Tok::Eq => Cmp::Eq,
            Tok::Ne => Cmp::Ne,
            _ => return Ok((left, lty)),
        };
        let (token, pos) = self.bump();
        self.count_node()?;
        let (right, rty) = self.sum()?;
        let ordering = !matches!(op, Cmp::Eq | Cmp::Ne);
        if lty != rty || lty == Type::Bool && ordering || lty == Type::Text && ordering {
            return Err(RuleError::at(
                pos,
                format!(
                    "cannot compare {} with {} using {}",
                    lty.name(),
                    rty.name(),
                    token.describe()
                ),
            ));
        }
        Ok((Expr::Cmp(op, Box::new(left), Box::new(right)), Type::Bool))
    }

    fn sum(&mut self) -> Result<(Expr, Type), RuleError> {
        let (mut left, ty) = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => Arith::Add,
                Tok::Minus => Arith::Sub,
                _ => return Ok((left, ty)),
            };
            let (token, pos) = self.bump();
            self.count_node()?;
            let (right, rty) = self.product()?;
            both_num(pos, &token, ty, rty)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn product(&mut self) -> Result<(Expr, Type), RuleError> {
        let (mut left, ty) = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => Arith::Mul,
                Tok::Slash => Arith::Div,
                _ => return Ok((left, ty)),
            };
            let (token, pos) = self.bump();
            self.count_node()?;
            let (right, rty) = self.unary()?;
            both_num(pos, &token, ty, rty)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<(Expr, Type), RuleError> {
        if *self.peek() == Tok::Minus {
            let pos = self.pos();
            self.bump();
            self.count_node()?;
            return self.nested(|p| {
                let (inner, ty) = p.unary()?;
                if ty != Type::Num {
                    return Err(RuleError::at(
                        pos,
                        format!("`-` needs a number, found {}", ty.name()),
                    ));
                }
                Ok((Expr::Neg(Box::new(inner)), Type::Num))
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<(Expr, Type), RuleError> {
        self.count_node()?;
        let (token, pos) = self.bump();
        match token {
            Tok::Number(n) => match n.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok((Expr::Num(v), Type::Num)),
                _ => Err(RuleError::at(pos, format!("`{n}` is not a number"))),
            },
            Tok::Str(s) => Ok((Expr::Text(s), Type::Text)),
            Tok::LParen => {
                let inner = self.expr()?;
                if *self.peek() != Tok::RParen {
                    return Err(self.unexpected("`)`"));
                }
                self.bump();
                Ok(inner)
            }
            Tok::Ident(word) => {
                if *self.peek() == Tok::LParen {
                    return self.call(&word, pos);
                }
                match word.as_str() {
                    "true" => Ok((Expr::Bool(true), Type::Bool)),
                    "false" => Ok((Expr::Bool(false), Type::Bool)),
                    keyword if KEYWORDS.contains(&keyword) => Err(RuleError::at(
                        pos,
                        format!("expected a value, found `{keyword}`"),
                    )),
                    _ => match Var::named(&word) {
                        Some(var) => Ok((Expr::Var(var), var.ty())),
                        None => Err(RuleError::at(
                            pos,
                            format!(
                                "unknown name `{word}` (variables: {}; features: feature(\"atr:14\"), atr(14), ...)",
                                Var::ALL.map(|(n, _)| n).join(", ")
                            ),
                        )),
                    },
                }
            }
            other => Err(RuleError::at(
                pos,
                format!("expected a value, found {}", other.describe()),
            )),
        }
    }

    fn call(&mut self, name: &str, pos: Pos) -> Result<(Expr, Type), RuleError> {
        self.bump(); // (
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                let arg_pos = self.pos();
                let (arg, ty) = self.expr()?;
                args.push((arg, ty, arg_pos));
                if args.len() > 8 {
                    return Err(RuleError::at(arg_pos, "too many arguments"));
                }
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        if *self.peek() != Tok::RParen {
            return Err(self.unexpected("`,` or `)`"));
        }
        self.bump();
        super::calls::resolve(name, pos, args)
    }
}

fn both_bool(pos: Pos, op: &str, a: Type, b: Type) -> Result<(), RuleError> {
    if a == Type::Bool && b == Type::Bool {
        Ok(())
    } else {
        Err(RuleError::at(
            pos,
            format!(
                "`{op}` joins true/false values, found {} and {}",
                a.name(),
                b.name()
            ),
        ))
    }
}

fn both_num(pos: Pos, token: &Tok, a: Type, b: Type) -> Result<(), RuleError> {
    if a == Type::Num && b == Type::Num {
        Ok(())
    } else {
        Err(RuleError::at(
            pos,
            format!(
                "{} works on numbers, found {} and {}",
                token.describe(),
                a.name(),
                b.name()
            ),
        ))
    }
}
