//! The tests that `condition` (`if`) and `loop` (`until`) steps decide by (ARCHITECTURE.md §2).
//!
//! They are data, not code: a small expression form, parsed when the workflow is validated so a
//! mistake is reported with its file, line, step and field before anything runs.
//!
//! ```text
//! test    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" test ")" | subject op STRING
//! subject := "output" | "output(" STRING ")" | "input"
//! op      := "contains" | "matches" | "equals"
//! ```
//!
//! `output` is the output the test looks at (a condition: the previous step's; a loop: the round's
//! last step's), `output("id")` the latest output of the step with that id, `input` the run's
//! input. `contains` and `equals` compare exactly (case matters); `matches` is a regular
//! expression (Rust `regex` syntax; `(?i)` for any case).

use std::fmt;

use regex::Regex;

/// A parsed test, kept with the text it came from (which is how it is saved and shown).
#[derive(Clone, Debug)]
pub struct Test {
    source: String,
    expr: Expr,
}

impl PartialEq for Test {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Clone, Debug)]
enum Expr {
    Never,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare { subject: Subject, op: Op },
}

/// What a comparison looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The output the test is about.
    Output,
    /// The latest output of the step with this id.
    StepOutput(String),
    /// The run's input.
    Input,
}

#[derive(Clone, Debug)]
enum Op {
    Contains(String),
    Equals(String),
    Matches(Regex),
}

/// Why a test does not parse, in words for the person who wrote it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TestError(String);

/// The values a test is evaluated against.
pub trait TestContext {
    fn output(&self) -> String;
    fn step_output(&self, id: &str) -> String;
    fn input(&self) -> String;
}

impl Test {
    pub fn parse(source: &str) -> Result<Test, TestError> {
        let tokens = tokenize(source)?;
        if tokens.is_empty() {
            return Err(TestError(
                "the test is empty; write for example: output contains \"APPROVED\"".into(),
            ));
        }
        let mut p = Parser { tokens, at: 0 };
        let expr = p.or()?;
        if let Some(t) = p.peek() {
            return Err(TestError(format!(
                "unexpected {t} after a complete test; join tests with `and` or `or`"
            )));
        }
        Ok(Test {
            source: source.trim().to_string(),
            expr,
        })
    }

    /// A test that never holds (stands in where a workflow is being refused anyway).
    pub(crate) fn never() -> Test {
        Test {
            source: String::new(),
            expr: Expr::Never,
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every step id the test cites with `output("id")`.
    pub fn cited_steps(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.subjects(&mut |s| {
            if let Subject::StepOutput(id) = s {
                out.push(id.clone());
            }
        });
        out
    }

    pub fn eval(&self, cx: &dyn TestContext) -> bool {
        self.expr.eval(cx)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expr {
    fn eval(&self, cx: &dyn TestContext) -> bool {
        match self {
            Expr::Never => false,
            Expr::Not(e) => !e.eval(cx),
            Expr::And(a, b) => a.eval(cx) && b.eval(cx),
            Expr::Or(a, b) => a.eval(cx) || b.eval(cx),
            Expr::Compare { subject, op } => {
                let value = match subject {
                    Subject::Output => cx.output(),
                    Subject::StepOutput(id) => cx.step_output(id),
                    Subject::Input => cx.input(),
                };
                match op {
                    Op::Contains(s) => value.contains(s.as_str()),
                    Op::Equals(s) => value.trim() == s,
                    Op::Matches(re) => re.is_match(&value),
                }
            }
        }
    }

    fn subjects(&self, f: &mut dyn FnMut(&Subject)) {
        match self {
            Expr::Never => {}
            Expr::Not(e) => e.subjects(f),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.subjects(f);
                b.subjects(f);
            }
            Expr::Compare { subject, .. } => f(subject),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Str(s) => write!(f, "\"{s}\""),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
        }
    }
}

fn tokenize(source: &str) -> Result<Vec<Token>, TestError> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(TestError(
                                "a quoted text is not closed: add the closing `\"`".into(),
                            ));
                        }
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => s.push(e),
                            Some('n') => s.push('\n'),
                            _ => {
                                return Err(TestError(
                                    "inside quotes, `\\` may only come before `\"`, `\\` or `n`"
                                        .into(),
                                ));
                            }
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        w.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(w));
            }
            other => {
                return Err(TestError(format!(
                    "`{other}` has no meaning in a test; quote texts with \"…\""
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn word_is(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, TestError> {
        let mut left = self.and()?;
        while self.word_is("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, TestError> {
        let mut left = self.unary()?;
        while self.word_is("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, TestError> {
        match self.next() {
            Some(Token::Word(w)) if w == "not" => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Token::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err(TestError("a `(` is not closed: add `)`".into())),
                }
            }
            Some(Token::Word(w)) if w == "output" || w == "input" => {
                let subject = if w == "input" {
                    Subject::Input
                } else if self.peek() == Some(&Token::Open) {
                    self.at += 1;
                    let id = match self.next() {
                        Some(Token::Str(id)) => id,
                        _ => {
                            return Err(TestError(
                                "write a step's id in quotes: output(\"review\")".into(),
                            ));
                        }
                    };
                    if self.next() != Some(Token::Close) {
                        return Err(TestError("`output(\"…\"` needs its closing `)`".into()));
                    }
                    Subject::StepOutput(id)
                } else {
                    Subject::Output
                };
                let op = self.op()?;
                Ok(Expr::Compare { subject, op })
            }
            Some(t) => Err(TestError(format!(
                "expected `output`, `output(\"step\")`, `input`, `not` or `(` but found {t}"
            ))),
            None => Err(TestError(
                "the test ends too early: after `and`, `or` or `not` comes another test".into(),
            )),
        }
    }

    fn op(&mut self) -> Result<Op, TestError> {
        let word = match self.next() {
            Some(Token::Word(w)) => w,
            _ => {
                return Err(TestError(
                    "after the subject comes `contains`, `matches` or `equals`".into(),
                ));
            }
        };
        let value = match self.next() {
            Some(Token::Str(s)) => s,
            _ => return Err(TestError(format!("`{word}` needs a quoted text after it"))),
        };
        match word.as_str() {
            "contains" => Ok(Op::Contains(value)),
            "equals" => Ok(Op::Equals(value)),
            "matches" => regex::RegexBuilder::new(&value)
                .size_limit(1 << 20)
                .build()
                .map(Op::Matches)
                .map_err(|e| {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim().to_string();
                    TestError(format!("the pattern \"{value}\" is not valid: {last}"))
                }),
            other => Err(TestError(format!(
                "`{other}` is not a comparison; use `contains`, `matches` or `equals`"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cx;
    impl TestContext for Cx {
        fn output(&self) -> String {
            "Looks good. APPROVED".into()
        }
        fn step_output(&self, id: &str) -> String {
            match id {
                "review" => "score: 8/10".into(),
                _ => String::new(),
            }
        }
        fn input(&self) -> String {
            "tidal energy".into()
        }
    }

    fn eval(s: &str) -> bool {
        Test::parse(s).unwrap().eval(&Cx)
    }

    #[test]
    fn evaluates_every_form() {
        assert!(eval(r#"output contains "APPROVED""#));
        assert!(!eval(r#"output contains "approved""#));
        assert!(eval(r#"output matches "(?i)approved""#));
        assert!(eval(r#"output("review") matches "score: [7-9]""#));
        assert!(!eval(r#"not output("review") matches "score: [7-9]""#));
        assert!(eval(
            r#"input equals "tidal energy" and output contains "good""#
        ));
        assert!(eval(
            r#"output contains "nope" or (input contains "tidal")"#
        ));
        assert!(!eval(
            r#"not (output contains "APPROVED" or input contains "x")"#
        ));
        assert!(eval(
            r#"output contains "say \"hi\"" or output contains "good""#
        ));
        // `and` binds tighter than `or`.
        assert!(eval(
            r#"input contains "x" and input contains "y" or output contains "good""#
        ));
    }

    #[test]
    fn lists_the_steps_it_cites() {
        let t = Test::parse(r#"output("a") contains "x" and not output("b") equals "y""#).unwrap();
        assert_eq!(t.cited_steps(), ["a", "b"]);
        assert_eq!(
            t.to_string(),
            r#"output("a") contains "x" and not output("b") equals "y""#
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let err = |s: &str| Test::parse(s).unwrap_err().to_string();
        assert!(err("").contains("empty"));
        assert!(err("output contains").contains("quoted text"));
        assert!(err(r#"output has "x""#).contains("not a comparison"));
        assert!(err(r#"output contains "x"#).contains("not closed"));
        assert!(err(r#"output matches "[a-""#).contains("not valid"));
        assert!(err(r#"output contains "x" output"#).contains("after a complete test"));
        assert!(err(r#"output contains "x" and"#).contains("ends too early"));
        assert!(err(r#"output(review) contains "x""#).contains("in quotes"));
        assert!(err(r#"(output contains "x""#).contains("not closed"));
        assert!(err(r#"output == "x""#).contains("no meaning"));
        assert!(err(r#"score contains "x""#).contains("expected `output`"));
    }
}
