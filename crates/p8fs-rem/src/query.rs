//! The entry point: which form a query is.

use crate::ast::RemQuery;
use crate::error::{Result, bail};
use crate::lexer::Cursor;
use crate::{MAX_QUERY_BYTES, keys, select, text, traverse};

/// Parses a REM query string.
///
/// Leading and trailing whitespace is ignored; the first word, case-insensitive, chooses
/// the form (`LOOKUP`, `GET`, `SEARCH`, `FUZZY`, `SELECT`, `TRAVERSE`); a query whose
/// first word is none of these is an implicit `SEARCH` of the whole text. See the crate
/// documentation and `docs/rem.md` for each form.
///
/// # Errors
/// A [`crate::ParseError`] naming the part that is wrong: an empty query, one longer than
/// [`MAX_QUERY_BYTES`], an unbalanced quote, an empty key, a bad number or name, and for
/// `SELECT` every clause, operator or expression outside the supported subset.
pub fn parse(query: &str) -> Result<RemQuery> {
    if query.len() > MAX_QUERY_BYTES {
        bail!("the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted", query.len());
    }
    let q = query.trim();
    if q.is_empty() {
        bail!("the query is empty");
    }
    let first = keyword(q);
    // Messages count columns from the start of the query as given.
    let mut rest = Cursor::at(query, query.len() - query.trim_start().len() + first.len());
    match first.to_ascii_uppercase().as_str() {
        "LOOKUP" => Ok(RemQuery::Lookup { keys: keys::lookup(&mut rest, "LOOKUP")? }),
        "GET" => Ok(RemQuery::Lookup { keys: keys::get(&mut rest)? }),
        "SEARCH" => text::search(&mut rest),
        "FUZZY" => text::fuzzy(&mut rest),
        "TRAVERSE" => traverse::parse(&mut rest),
        // SQL goes to the SQL parser whole: `SELECT*FROM t` is a SELECT too.
        "SELECT" => select::parse(q),
        _ => Ok(RemQuery::Search { text: implicit_text(q)?, table: None, limit: None, implicit: true }),
    }
}

/// The leading word of a trimmed query if it can be a keyword, else `""`.
///
/// A keyword must be followed by whitespace or the end (`GET"x"` is no `GET`); `SELECT`
/// by anything but a name character, so that `SELECT*` is a `SELECT`.
fn keyword(q: &str) -> &str {
    let end = q.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (word, rest) = q.split_at(end);
    let next = rest.chars().next();
    let ends_word = match next {
        None => true,
        Some(c) if c.is_whitespace() => true,
        Some(c) => word.eq_ignore_ascii_case("SELECT") && !(c.is_ascii_alphanumeric() || c == '_'),
    };
    if ends_word { word } else { "" }
}

/// The text of an implicit search: as typed, except that a query that is one quoted
/// string loses its quotes. Quotes elsewhere are the text's own (`what's new`), so an
/// apostrophe in a natural-language question is no error.
fn implicit_text(q: &str) -> Result<String> {
    if q.starts_with(crate::lexer::is_quote) {
        let mut c = Cursor::new(q);
        if let Ok(inner) = c.quoted()
            && c.at_end()
        {
            if inner.trim().is_empty() {
                bail!("the search text is empty");
            }
            return Ok(inner);
        }
    }
    Ok(q.to_owned())
}
