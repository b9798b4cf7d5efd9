//! A minimal JSON reader, enough for criterion's `benchmark.json` and
//! `estimates.json` (keeps xtask free of dependencies).

/// A parsed JSON value. Numbers are kept as `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// any number
    Number(f64),
    /// a string, escapes resolved
    String(String),
    /// an array
    Array(Vec<Value>),
    /// an object, members in document order
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a path of object keys, e.g. `["mean", "point_estimate"]`.
    pub fn at(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(self, |value, key| value.get(key))
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses a whole JSON document.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 128;

/// A recursive-descent parser over the document's bytes.
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("invalid JSON at byte {}: {what}", self.pos)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.bytes.get(self.pos) == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return Err(self.error("expected ':'"));
            }
            members.push((key, self.value(depth + 1)?));
            if self.eat(b'}') {
                return Ok(Value::Object(members));
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or '}'"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or ']'"));
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).expect("ASCII");
        text.parse()
            .map(Value::Number)
            .map_err(|_| self.error("bad number"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("short \\u"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("bad \\u"))?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.error("bad \\u"))?;
        self.pos += 4;
        Ok(code)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            // Splitting only at ASCII bytes keeps every chunk valid UTF-8.
            out.push_str(std::str::from_utf8(&self.bytes[start..self.pos]).expect("UTF-8 input"));
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                _ => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(&kind) = self.bytes.get(self.pos + 1) else {
            return Err(self.error("unterminated escape"));
        };
        self.pos += 2;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let mut code = self.hex4()?;
                if (0xD800..0xDC00).contains(&code) && self.bytes[self.pos..].starts_with(b"\\u") {
                    self.pos += 2;
                    let low = self.hex4()?;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                }
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            _ => return Err(self.error("unknown escape")),
        };
        out.push(c);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verbatim from criterion 0.8.2's `new/benchmark.json`.
    const BENCHMARK: &str = r#"{"group_id":"timers/half cancelled","function_id":"tulip","value_str":null,"throughput":{"Elements":10},"full_id":"timers/half cancelled/tulip","directory_name":"timers_half cancelled/tulip","title":"timers/half cancelled/tulip"}"#;

    /// Verbatim from criterion 0.8.2's `new/estimates.json` (abridged to two estimates).
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":3.0516819787555387,"upper_bound":3.177882678864745},"point_estimate":3.1102122434456523,"standard_error":0.0326765977863018},"slope":{"confidence_interval":{"confidence_level":0.95,"lower_bound":3.0309839074322587,"upper_bound":3.1317697935397066},"point_estimate":3.061030257882457,"standard_error":0.02656555468898845}}"#;

    #[test]
    fn reads_criterion_files() {
        let bench = parse(BENCHMARK).unwrap();
        assert_eq!(
            bench.get("group_id").and_then(Value::as_str),
            Some("timers/half cancelled")
        );
        assert_eq!(bench.get("value_str"), Some(&Value::Null));
        assert_eq!(
            bench
                .at(&["throughput", "Elements"])
                .and_then(Value::as_f64),
            Some(10.0)
        );
        let estimates = parse(ESTIMATES).unwrap();
        let mean = estimates
            .at(&["mean", "point_estimate"])
            .and_then(Value::as_f64);
        assert_eq!(mean, Some(3.1102122434456523));
    }

    #[test]
    fn reads_every_kind_of_value() {
        let v = parse(r#" [1, -2.5e3, true, false, null, "a\"\\\/\n\u00e9\ud83d\ude00", {}, []] "#)
            .unwrap();
        let expected = Value::Array(vec![
            Value::Number(1.0),
            Value::Number(-2500.0),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::String("a\"\\/\né😀".into()),
            Value::Object(vec![]),
            Value::Array(vec![]),
        ]);
        assert_eq!(v, expected);
        assert_eq!(
            parse(r#"{"k":"ü"}"#)
                .unwrap()
                .get("k")
                .and_then(Value::as_str),
            Some("ü")
        );
    }

    #[test]
    fn refuses_broken_documents() {
        for bad in [
            "",
            "{",
            r#"{"a" 1}"#,
            "[1,]",
            "[1 2]",
            r#""abc"#,
            "nul",
            "1 2",
            "{1:2}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse(&"[".repeat(1000)).is_err());
    }
}
