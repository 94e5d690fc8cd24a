//! A strict little BibTeX reader, used to check the BibTeX this crate writes (`cite`, the
//! bibliography): entries `@type{key, name = {value}, ...}` with brace-balanced values, no
//! duplicate keys or fields, and the fields BibTeX's standard styles require for each type.

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Entry type, lower case (`misc`).
    pub kind: String,
    /// Citation key.
    pub key: String,
    /// Fields in order, names lower case, values without their outer braces.
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Fields the standard styles require (`misc` requires none; this crate asks for a title and a
/// year so that every entry can be printed).
fn required(kind: &str) -> &'static [&'static str] {
    match kind {
        "article" => &["author", "title", "journal", "year"],
        "book" => &["author", "title", "publisher", "year"],
        _ => &["title", "year"],
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"_-:.".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a name at byte {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A `{...}` value with balanced braces, a `"..."` value, or a bare number.
    fn value(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.i;
        match self.peek() {
            Some(b'{') => {
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    match c {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                let v = &self.s[start + 1..self.i - 1];
                                return Ok(String::from_utf8_lossy(v).into_owned());
                            }
                        }
                        _ => {}
                    }
                }
                Err(format!(
                    "unbalanced braces in the value starting at byte {start}"
                ))
            }
            Some(b'"') => {
                self.i += 1;
                let mut depth = 0i64;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    match c {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b'"' if depth == 0 => {
                            let v = &self.s[start + 1..self.i - 1];
                            return Ok(String::from_utf8_lossy(v).into_owned());
                        }
                        _ => {}
                    }
                    if depth < 0 {
                        return Err(format!("unbalanced braces at byte {}", self.i));
                    }
                }
                Err(format!("unterminated quoted value at byte {start}"))
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            _ => Err(format!("expected a value at byte {start}")),
        }
    }
}

/// Parses `text` (entries only, whitespace between them), or says what is wrong.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut c = Cursor {
        s: text.as_bytes(),
        i: 0,
    };
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        c.skip_ws();
        if c.peek().is_none() {
            break;
        }
        c.expect(b'@')?;
        let kind = c.ident()?.to_ascii_lowercase();
        c.expect(b'{')?;
        let key = c.ident()?;
        if entries.iter().any(|e| e.key == key) {
            return Err(format!("duplicate key {key}"));
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        loop {
            c.skip_ws();
            match c.peek() {
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                Some(b',') => {
                    c.i += 1;
                    c.skip_ws();
                    if c.peek() == Some(b'}') {
                        continue;
                    }
                    let name = c.ident()?.to_ascii_lowercase();
                    c.expect(b'=')?;
                    let value = c.value()?;
                    if fields.iter().any(|(n, _)| *n == name) {
                        return Err(format!("{key}: duplicate field {name}"));
                    }
                    fields.push((name, value));
                }
                _ => return Err(format!("{key}: expected ',' or '}}' at byte {}", c.i)),
            }
        }
        for r in required(&kind) {
            if !fields.iter().any(|(n, v)| n == r && !v.trim().is_empty()) {
                return Err(format!("{key}: @{kind} lacks the required field {r}"));
            }
        }
        entries.push(Entry { kind, key, fields });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_a_well_formed_entry() -> Result<(), String> {
        let e =
            parse("@misc{k1,\n  title = {{A {B} c}},\n  year = 2020,\n  note = \"x {y}\",\n}\n")?;
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field("title"), Some("{A {B} c}"));
        assert_eq!(e[0].field("year"), Some("2020"));
        Ok(())
    }

    /// Negative controls: each defect the reader exists to catch is caught.
    #[test]
    fn rejects_malformed_entries() {
        let bad = [
            ("unbalanced", "@misc{k, title = {a {b}, year = 2020}"),
            ("missing year", "@misc{k, title = {a}}"),
            (
                "article without journal",
                "@article{k, author = {A}, title = {t}, year = 1}",
            ),
            (
                "duplicate key",
                "@misc{k, title={a}, year=1}\n@misc{k, title={b}, year=2}",
            ),
            ("duplicate field", "@misc{k, title={a}, title={b}, year=1}"),
            ("no comma", "@misc{k title={a}, year=1}"),
            ("unterminated", "@misc{k, title={a}, year=1"),
        ];
        for (what, text) in bad {
            assert!(parse(text).is_err(), "{what} was accepted: {text}");
        }
    }
}
