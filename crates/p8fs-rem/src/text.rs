//! `SEARCH` and `FUZZY`: a text and optional `IN table` and `LIMIT n` clauses.

use crate::ast::RemQuery;
use crate::error::{ParseError, Result, bail, shown};
use crate::lexer::{Cursor, ident, is_quote, limit};

/// The text and clauses of `SEARCH` or `FUZZY`.
struct TextQuery {
    text: String,
    table: Option<String>,
    limit: Option<u64>,
}

/// `SEARCH text [IN table] [LIMIT n]`.
pub(crate) fn search(c: &mut Cursor<'_>) -> Result<RemQuery> {
    let TextQuery { text, table, limit } = text_query(c, "SEARCH")?;
    Ok(RemQuery::Search { text, table, limit, implicit: false })
}

/// `FUZZY text [IN table] [LIMIT n]`.
pub(crate) fn fuzzy(c: &mut Cursor<'_>) -> Result<RemQuery> {
    let TextQuery { text, table, limit } = text_query(c, "FUZZY")?;
    Ok(RemQuery::Fuzzy { text, table, limit })
}

/// Quoted text may be followed by `IN table` and `LIMIT n`, in any order, and nothing
/// else. Unquoted text is the whole rest, less trailing `IN table` and `LIMIT n` clauses:
/// text that itself ends in "in <word>" or "limit <word>" must be quoted.
fn text_query(c: &mut Cursor<'_>, form: &str) -> Result<TextQuery> {
    let mut q = TextQuery { text: String::new(), table: None, limit: None };
    if c.peek().is_some_and(is_quote) {
        q.text = c.quoted()?;
        loop {
            let word = c.word();
            if word.is_empty() {
                if let Some(ch) = c.peek() {
                    bail!("unexpected {} after the {form} text", shown(&ch.to_string()));
                }
                break;
            }
            clause(&mut q, word, &c.value()?, form)?;
        }
    } else {
        let mut text = c.rest().trim();
        // At most one IN and one LIMIT, read from the end.
        for _ in 0..2 {
            let (head, value) = split_last_word(text);
            let (head, word) = split_last_word(head);
            let fresh = (word.eq_ignore_ascii_case("IN") && q.table.is_none())
                || (word.eq_ignore_ascii_case("LIMIT") && q.limit.is_none());
            if !fresh || value.is_empty() {
                break;
            }
            clause(&mut q, word, value, form)
                .map_err(|e| ParseError::new(format!("{e} (quote the {form} text if it ends in these words)")))?;
            text = head;
        }
        q.text = text.to_owned();
    }
    if q.text.trim().is_empty() {
        bail!("{form} needs a text to search for");
    }
    Ok(q)
}

/// One `IN table` or `LIMIT n` clause.
fn clause(q: &mut TextQuery, word: &str, value: &str, form: &str) -> Result<()> {
    if word.eq_ignore_ascii_case("IN") {
        if q.table.is_some() {
            bail!("IN given twice in {form}");
        }
        q.table = Some(ident(value, "a table name after IN")?);
    } else if word.eq_ignore_ascii_case("LIMIT") {
        if q.limit.is_some() {
            bail!("LIMIT given twice in {form}");
        }
        q.limit = Some(limit(value)?);
    } else {
        bail!("unexpected {} after the quoted {form} text: only IN table and LIMIT n may follow", shown(word));
    }
    Ok(())
}

/// `s` (trimmed at its end) split before its last word: `("a b", "c")` for `"a b c"`,
/// `("", "c")` for `"c"`.
fn split_last_word(s: &str) -> (&str, &str) {
    let s = s.trim_end();
    match s.rfind(char::is_whitespace) {
        Some(i) => {
            let ws = s[i..].chars().next().map_or(1, char::len_utf8);
            (s[..i].trim_end(), &s[i + ws..])
        }
        None => ("", s),
    }
}
