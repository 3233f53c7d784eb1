//! The small lexer of the keyword forms (all but `SELECT`): quoted strings, words,
//! identifiers and numbers over a cursor.

use crate::error::{Result, bail, shown};
use crate::{MAX_IDENT_LEN, MAX_LIMIT};

/// The quote characters: `'`, `"` and a backtick. Inside a quoted string the other two
/// are literal and the opening one doubled is one literal quote.
pub(crate) fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '`')
}

/// A plain identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_IDENT_LEN`] bytes.
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= MAX_IDENT_LEN
}

/// `s` if it is a plain identifier, else an error naming `what` (e.g. "a table name
/// after IN").
pub(crate) fn ident(s: &str, what: &str) -> Result<String> {
    if !is_ident(s) {
        bail!(
            "expected {what}, got {}: names are letters, digits and _ (not starting with a digit), at most {MAX_IDENT_LEN} bytes",
            shown(s)
        );
    }
    Ok(s.to_owned())
}

/// A non-negative integer written in decimal digits only (no sign, no exponent).
pub(crate) fn number(s: &str, after: &str) -> Result<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        bail!("expected a number after {after}, got {}", shown(s));
    }
    match s.parse::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => bail!("the number after {after} is too large: {}", shown(s)),
    }
}

/// A `LIMIT` of SEARCH, FUZZY and TRAVERSE: 1..=[`MAX_LIMIT`].
pub(crate) fn limit(s: &str) -> Result<u64> {
    let n = number(s, "LIMIT")?;
    if !(1..=MAX_LIMIT).contains(&n) {
        bail!("LIMIT must be between 1 and {MAX_LIMIT}, got {n}");
    }
    Ok(n)
}

/// A position in a query, moving forward only.
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    /// A cursor at byte `pos` of `src` (the end if `pos` is not a char boundary of it);
    /// columns in messages count from the start of `src`.
    pub(crate) fn at(src: &'a str, pos: usize) -> Self {
        let pos = if src.is_char_boundary(pos) { pos } else { src.len() };
        Cursor { src, pos }
    }

    /// What is left.
    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    /// The byte position.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to byte position `pos` (a char boundary at or after the current one).
    pub(crate) fn seek(&mut self, pos: usize) {
        if pos >= self.pos && self.src.is_char_boundary(pos) {
            self.pos = pos;
        }
    }

    /// The 1-based character column of byte position `pos`, for messages.
    pub(crate) fn column(&self, pos: usize) -> usize {
        self.src.get(..pos).map_or(0, |s| s.chars().count()) + 1
    }

    /// Skips whitespace.
    pub(crate) fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The next character, after whitespace.
    pub(crate) fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `c` if it is the next character (after whitespace).
    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// The next word (after whitespace): a run of characters up to whitespace, a comma or
    /// the end; not consumed. Empty at the end or before a comma.
    pub(crate) fn peek_word(&mut self) -> &'a str {
        self.skip_ws();
        let rest = self.rest();
        let end = rest.find(|c: char| c.is_whitespace() || c == ',').unwrap_or(rest.len());
        &rest[..end]
    }

    /// The next word, consumed.
    pub(crate) fn word(&mut self) -> &'a str {
        let w = self.peek_word();
        self.pos += w.len();
        w
    }

    /// Consumes the next word if it is `keyword` (case-insensitive).
    pub(crate) fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_word().eq_ignore_ascii_case(keyword) {
            self.word();
            true
        } else {
            false
        }
    }

    /// A quoted string starting at the next character, which must be a quote: its text,
    /// the quotes removed and doubled quotes made single.
    ///
    /// # Errors
    /// A quote that is not closed.
    pub(crate) fn quoted(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let mut chars = rest.char_indices();
        let Some((_, q)) = chars.next().filter(|&(_, c)| is_quote(c)) else {
            bail!("expected a quoted string at character {}", self.column(start));
        };
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            if c != q {
                out.push(c);
                continue;
            }
            // A doubled quote is one literal quote; a single one closes the string.
            if rest[i + 1..].starts_with(q) {
                out.push(q);
                chars.next();
            } else {
                self.pos += i + 1;
                return Ok(out);
            }
        }
        bail!("unbalanced quote {q} starting at character {}: it is never closed", self.column(start))
    }

    /// A clause's value: a quoted string or a word.
    pub(crate) fn value(&mut self) -> Result<String> {
        match self.peek() {
            Some(c) if is_quote(c) => self.quoted(),
            _ => Ok(self.word().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doubled_quote_is_one_literal_quote() {
        let mut c = Cursor::new(r#""say ""hi""" rest"#);
        assert_eq!(c.quoted().unwrap(), r#"say "hi""#);
        assert_eq!(c.word(), "rest");
    }

    #[test]
    fn other_quote_characters_inside_quotes_are_literal() {
        let mut c = Cursor::new("`it's \"x\"`");
        assert_eq!(c.quoted().unwrap(), "it's \"x\"");
        assert!(c.at_end());
    }

    #[test]
    fn an_unclosed_quote_is_an_error_with_its_column() {
        let mut c = Cursor::new("  'abc");
        let e = c.quoted().unwrap_err();
        assert_eq!(e.message, "unbalanced quote ' starting at character 3: it is never closed");
        // A doubled quote at the end does not close the string.
        assert!(Cursor::new("'abc''").quoted().is_err());
    }

    #[test]
    fn identifiers_are_ascii_names_of_bounded_length() {
        assert!(is_ident("resources") && is_ident("_x9") && is_ident(&"a".repeat(MAX_IDENT_LEN)));
        for bad in ["", "9a", "a-b", "a.b", "é", "a b", &"a".repeat(MAX_IDENT_LEN + 1)] {
            assert!(!is_ident(bad), "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_plain_decimal_digits() {
        assert_eq!(number("42", "LIMIT").unwrap(), 42);
        for bad in ["", "+1", "-1", "1e3", "0x10", "1.0", "ten", "99999999999999999999999"] {
            assert!(number(bad, "LIMIT").is_err(), "{bad:?}");
        }
        assert_eq!(limit("0").unwrap_err().message, "LIMIT must be between 1 and 10000, got 0");
        assert!(limit("10000").is_ok() && limit("10001").is_err());
    }
}
