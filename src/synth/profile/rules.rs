//! The rule strings HealthSim writes in conditional distributions, parsed into a small
//! expression tree and evaluated against the patient drawn so far. Never `eval`: the
//! grammar is comparisons (`== != < <= > >=`), `in [...]`, `and`/`or`/`not` (any case),
//! parentheses, quoted strings, numbers, variables (`severity`, `age`, `gender`, any
//! sampled attribute) and `has_condition('E11')` (a code prefix).

use std::collections::BTreeMap;

/// What a rule can see: the attributes drawn so far and the patient's condition codes.
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub values: BTreeMap<String, Atom>,
    pub conditions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    In(Operand, Vec<Operand>),
    HasCondition(String),
}

#[derive(Debug, Clone)]
pub enum Operand {
    Variable(String),
    Literal(Atom),
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
}

impl Expr {
    /// Parses a rule; the error says what was expected where.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err(format!("unexpected {:?} in rule \"{text}\"", parser.tokens[parser.at]));
        }
        Ok(expr)
    }

    pub fn holds(&self, context: &Context) -> bool {
        match self {
            Expr::And(a, b) => a.holds(context) && b.holds(context),
            Expr::Or(a, b) => a.holds(context) || b.holds(context),
            Expr::Not(a) => !a.holds(context),
            Expr::HasCondition(prefix) => context.conditions.iter().any(|c| c.starts_with(prefix.as_str())),
            Expr::In(left, items) => {
                let left = left.value(context);
                left.is_some() && items.iter().any(|item| item.value(context) == left)
            }
            Expr::Compare(left, op, right) => {
                let (Some(a), Some(b)) = (left.value(context), right.value(context)) else { return false };
                match (a, b) {
                    (Atom::Number(a), Atom::Number(b)) => compare(a.partial_cmp(&b), *op),
                    (Atom::Text(a), Atom::Text(b)) => compare(Some(a.cmp(&b)), *op),
                    _ => matches!(op, Op::Ne),
                }
            }
        }
    }
}

impl Operand {
    fn value(&self, context: &Context) -> Option<Atom> {
        match self {
            Operand::Literal(atom) => Some(atom.clone()),
            Operand::Variable(name) => context.values.get(name).cloned(),
        }
    }
}

fn compare(ordering: Option<std::cmp::Ordering>, op: Op) -> bool {
    use std::cmp::Ordering::*;
    let Some(ordering) = ordering else { return false };
    match op {
        Op::Eq => ordering == Equal,
        Op::Ne => ordering != Equal,
        Op::Lt => ordering == Less,
        Op::Le => ordering != Greater,
        Op::Gt => ordering == Greater,
        Op::Ge => ordering != Less,
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => (tokens.push(Token::Open), i += 1).1,
            ')' => (tokens.push(Token::Close), i += 1).1,
            '[' => (tokens.push(Token::OpenList), i += 1).1,
            ']' => (tokens.push(Token::CloseList), i += 1).1,
            ',' => (tokens.push(Token::Comma), i += 1).1,
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("unterminated string in rule \"{text}\""))?;
                tokens.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "==" => "==",
                    "!=" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ if c == '<' => "<",
                    _ if c == '>' => ">",
                    _ if c == '=' => "==",
                    _ => return Err(format!("'{c}' alone is not an operator in rule \"{text}\"")),
                };
                tokens.push(Token::Op(op));
                i += if op.len() == 2 && two == op { 2 } else { 1 };
            }
            c if c.is_ascii_digit() || c == '.' || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let number: String = chars[start..i].iter().collect();
                tokens.push(Token::Number(
                    number.parse().map_err(|_| format!("bad number {number} in rule \"{text}\""))?,
                ));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected '{other}' in rule \"{text}\"")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        if self.peek_word("has_condition") {
            self.at += 1;
            self.expect(&Token::Open)?;
            let Some(Token::Text(code)) = self.tokens.get(self.at).cloned() else {
                return Err("has_condition takes a quoted code, e.g. has_condition('E11')".to_owned());
            };
            self.at += 1;
            self.expect(&Token::Close)?;
            return Ok(Expr::HasCondition(code));
        }
        let left = self.operand()?;
        if self.peek_word("in") {
            self.at += 1;
            self.expect(&Token::OpenList)?;
            let mut items = vec![self.operand()?];
            while self.tokens.get(self.at) == Some(&Token::Comma) {
                self.at += 1;
                items.push(self.operand()?);
            }
            self.expect(&Token::CloseList)?;
            return Ok(Expr::In(left, items));
        }
        let op = match self.tokens.get(self.at) {
            Some(Token::Op(op)) => match *op {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            _ => return Err("expected a comparison (==, !=, <, <=, >, >=) or 'in [...]'".to_owned()),
        };
        self.at += 1;
        Ok(Expr::Compare(left, op, self.operand()?))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let token = self.tokens.get(self.at).cloned().ok_or("the rule ends too early")?;
        self.at += 1;
        Ok(match token {
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Operand::Literal(Atom::Text("true".into())),
            Token::Word(w) => Operand::Variable(w),
            Token::Text(t) => Operand::Literal(Atom::Text(t)),
            Token::Number(n) => Operand::Literal(Atom::Number(n)),
            other => return Err(format!("expected a value, found {other:?}")),
        })
    }

    fn expect(&mut self, token: &Token) -> Result<(), String> {
        if self.tokens.get(self.at) == Some(token) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {token:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let mut values = BTreeMap::new();
        values.insert("severity".into(), Atom::Text("controlled".into()));
        values.insert("age".into(), Atom::Number(70.0));
        Context { values, conditions: vec!["E11.9".into(), "N18.31".into()] }
    }

    /// Every rule form HealthSim's documents use, and the forms its own evaluator got wrong.
    #[test]
    fn healthsim_rules() {
        let c = context();
        for (rule, expected) in [
            ("severity == 'controlled'", true),
            ("severity == 'uncontrolled'", false),
            ("severity != 'uncontrolled'", true),
            ("severity in ['a', 'controlled']", true),
            ("has_condition('E11')", true),
            ("has_condition('N18.3')", true),
            ("has_condition('I50')", false),
            ("age >= 65 AND severity == 'controlled'", true),
            ("age < 65 or has_condition('E11')", true),
            ("not (age > 80)", true),
            ("health_status == 'healthy'", false),
        ] {
            assert_eq!(Expr::parse(rule).unwrap().holds(&c), expected, "{rule}");
        }
        for bad in ["severity ==", "severity = = 'x'", "__import__('os')('x')", "has_condition(E11)", "'open"] {
            assert!(Expr::parse(bad).is_err(), "{bad}");
        }
    }
}
