//! Splits rule text into tokens, each with the line and column it starts at (1-based, counted
//! in characters), so every parse error can point at the text that caused it.
//!
//! Comments run from `#` to the end of the line. Strings are double-quoted, with `\"` and `\\`
//! as the only escapes. Numbers are decimal literals (`12`, `0.5`, `1e-3` is refused: rules
//! deal in plain decimals).

use super::RuleError;

/// Where a token starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// A decimal literal, kept as written (multipliers are exact decimals).
    Number(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Semi,
    Plus,
    Minus,
    Star,
    Slash,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Number(n) => format!("number `{n}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Eof => "the end of the rules".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            _ => "?",
        }
    }
}

/// The longest identifier, string or number accepted (a guard against pathological input).
const MAX_TOKEN_CHARS: usize = 256;

/// The tokens of `text`, ending with [`Tok::Eof`].
///
/// # Errors
/// [`RuleError`] at the first character that starts no token, an unterminated string, or a
/// token longer than 256 characters.
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Tok, Pos)>, RuleError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut pos = Pos { line: 1, column: 1 };
    let advance = |c: char, pos: &mut Pos| {
        if c == '\n' {
            pos.line += 1;
            pos.column = 1;
        } else {
            pos.column += 1;
        }
    };
    while let Some(&c) = chars.peek() {
        let start = pos;
        if c.is_whitespace() {
            chars.next();
            advance(c, &mut pos);
            continue;
        }
        if c == '#' {
            while let Some(&c) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
                advance(c, &mut pos);
            }
            continue;
        }
        let too_long = |what: &str| {
            RuleError::at(
                start,
                format!("{what} longer than {MAX_TOKEN_CHARS} characters"),
            )
        };
        if c.is_ascii_alphabetic() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                word.push(c);
                chars.next();
                advance(c, &mut pos);
                if word.len() > MAX_TOKEN_CHARS {
                    return Err(too_long("a name"));
                }
            }
            tokens.push((Tok::Ident(word), start));
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let mut number = String::new();
            while let Some(&c) = chars.peek() {
                if !(c.is_ascii_digit() || c == '.') {
                    break;
                }
                number.push(c);
                chars.next();
                advance(c, &mut pos);
                if number.len() > MAX_TOKEN_CHARS {
                    return Err(too_long("a number"));
                }
            }
            let digits_ok = number.chars().filter(|&c| c == '.').count() <= 1
                && number.chars().any(|c| c.is_ascii_digit());
            if !digits_ok {
                return Err(RuleError::at(
                    start,
                    format!("`{number}` is not a number (write numbers like 12 or 0.5)"),
                ));
            }
            if chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
            {
                return Err(RuleError::at(
                    pos,
                    format!("a number (`{number}`) runs into a name: put a space or an operator between them"),
                ));
            }
            tokens.push((Tok::Number(number), start));
            continue;
        }
        if c == '"' {
            chars.next();
            advance(c, &mut pos);
            let mut text = String::new();
            loop {
                let Some(c) = chars.next() else {
                    return Err(RuleError::at(
                        start,
                        "a string is not closed (missing `\"`)",
                    ));
                };
                advance(c, &mut pos);
                match c {
                    '"' => break,
                    '\n' => return Err(RuleError::at(start, "a string is not closed on its line")),
                    '\\' => {
                        let escaped = chars.next();
                        if let Some(e) = escaped {
                            advance(e, &mut pos);
                        }
                        match escaped {
                            Some(e @ ('"' | '\\')) => text.push(e),
                            _ => {
                                return Err(RuleError::at(
                                    start,
                                    "a string has an unknown escape (only \\\" and \\\\)",
                                ))
                            }
                        }
                    }
                    other => text.push(other),
                }
                if text.len() > MAX_TOKEN_CHARS {
                    return Err(too_long("a string"));
                }
            }
            tokens.push((Tok::Str(text), start));
            continue;
        }
        chars.next();
        advance(c, &mut pos);
        let next_is = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, want: char| {
            chars.peek() == Some(&want)
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semi,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '<' | '>' | '=' | '!' => {
                let double = next_is(&mut chars, '=');
                if double {
                    chars.next();
                    advance('=', &mut pos);
                }
                match (c, double) {
                    ('<', false) => Tok::Lt,
                    ('<', true) => Tok::Le,
                    ('>', false) => Tok::Gt,
                    ('>', true) => Tok::Ge,
                    ('=', true) => Tok::Eq,
                    ('!', true) => Tok::Ne,
                    ('=', false) => {
                        return Err(RuleError::at(start, "`=` alone: compare with `==`"))
                    }
                    _ => return Err(RuleError::at(start, "`!` alone: write `not` or `!=`")),
                }
            }
            other => {
                return Err(RuleError::at(
                    start,
                    format!("unexpected character {other:?}"),
                ))
            }
        };
        tokens.push((tok, start));
    }
    tokens.push((Tok::Eof, pos));
    Ok(tokens)
}
