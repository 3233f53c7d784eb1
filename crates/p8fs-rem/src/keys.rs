//! Key lists: `LOOKUP k1, "k2", table:k3`, `GET k` and the keys of a `TRAVERSE` seed.

use crate::MAX_LOOKUP_KEYS;
use crate::ast::LookupKey;
use crate::error::{Result, bail, shown};
use crate::lexer::{Cursor, is_ident, is_quote};

/// The words that end a `TRAVERSE ... WITH LOOKUP` key list when they stand alone
/// outside quotes.
pub(crate) const TRAVERSE_CLAUSES: [&str; 4] = ["DEPTH", "IN", "LIMIT", "PLAN"];

/// The keys of `LOOKUP` (`form` names it in messages): the whole rest of the query.
pub(crate) fn lookup(c: &mut Cursor<'_>, form: &str) -> Result<Vec<LookupKey>> {
    if c.at_end() {
        bail!("{form} needs at least one key");
    }
    let keys = list(c, false)?;
    if !c.at_end() {
        // `list` reads to the end unless it stopped at an error; this is defence only.
        bail!("unexpected {} after the keys", shown(c.rest()));
    }
    Ok(keys)
}

/// The one key of `GET`.
pub(crate) fn get(c: &mut Cursor<'_>) -> Result<Vec<LookupKey>> {
    let keys = lookup(c, "GET")?;
    if keys.len() != 1 {
        bail!("GET takes exactly one key, got {}; use LOOKUP for a list", keys.len());
    }
    Ok(keys)
}

/// A comma-separated key list from the cursor. With `stop_at_clause`, an unquoted key
/// ends before the first word of [`TRAVERSE_CLAUSES`]; without it, a key runs to the
/// next comma or the end.
pub(crate) fn list(c: &mut Cursor<'_>, stop_at_clause: bool) -> Result<Vec<LookupKey>> {
    let mut keys = Vec::new();
    loop {
        keys.push(key(c, stop_at_clause)?);
        if keys.len() > MAX_LOOKUP_KEYS {
            bail!("too many keys: at most {MAX_LOOKUP_KEYS} in one query");
        }
        if !c.eat(',') {
            return Ok(keys);
        }
    }
}

/// One key: `"quoted"`, `table:"quoted"`, `unquoted words` or `table:unquoted words`.
fn key(c: &mut Cursor<'_>, stop_at_clause: bool) -> Result<LookupKey> {
    let start = c.pos();
    match c.peek() {
        None | Some(',') => bail!("empty key at character {}", c.column(c.pos())),
        Some(q) if is_quote(q) => {
            let key = c.quoted()?;
            after_quoted(c, &key, stop_at_clause)?;
            non_empty(None, key, c.column(start))
        }
        Some(_) => {
            let rest = c.rest();
            let end = unquoted_end(rest, stop_at_clause);
            let text = &rest[..end];
            // `table:"quoted key"`: the quote opens right after `ident:`.
            if let Some(q) = rest[end..].chars().next().filter(|&ch| is_quote(ch)) {
                match text.strip_suffix(':') {
                    Some(table) if is_ident(table) => {
                        c.seek(c.pos() + end);
                        let key = c.quoted()?;
                        after_quoted(c, &key, stop_at_clause)?;
                        return non_empty(Some(table.to_owned()), key, c.column(start));
                    }
                    _ => bail!(
                        "quote {q} inside the unquoted key {}: quote the whole key, e.g. \"o'brien\"",
                        shown(&format!("{text}{q}"))
                    ),
                }
            }
            c.seek(c.pos() + end);
            let text = text.trim();
            if text.is_empty() {
                bail!("empty key at character {}", c.column(start));
            }
            match text.split_once(':') {
                Some((table, key)) if is_ident(table) => {
                    if key.trim().is_empty() {
                        bail!("empty key after {}", shown(&format!("{table}:")));
                    }
                    Ok(LookupKey { table: Some(table.to_owned()), key: key.trim().to_owned() })
                }
                _ => Ok(LookupKey { table: None, key: text.to_owned() }),
            }
        }
    }
}

/// Where an unquoted key ends in `rest`: at a comma, a quote (the caller decides what it
/// means), the end, or with `stop_at_clause` the start of a clause word.
fn unquoted_end(rest: &str, stop_at_clause: bool) -> usize {
    let mut prev_space = true;
    for (i, ch) in rest.char_indices() {
        if ch == ',' || is_quote(ch) {
            return i;
        }
        if stop_at_clause && prev_space && !ch.is_whitespace() {
            let word_end = rest[i..].find(|c: char| c.is_whitespace() || c == ',').map_or(rest.len(), |e| i + e);
            let word = &rest[i..word_end];
            if TRAVERSE_CLAUSES.iter().any(|k| word.eq_ignore_ascii_case(k)) {
                return i;
            }
        }
        prev_space = ch.is_whitespace();
    }
    rest.len()
}

/// After a quoted key: a comma, the end, or (in a TRAVERSE) a clause word.
fn after_quoted(c: &mut Cursor<'_>, key: &str, stop_at_clause: bool) -> Result<()> {
    match c.peek() {
        None | Some(',') => Ok(()),
        _ if stop_at_clause && TRAVERSE_CLAUSES.iter().any(|k| c.peek_word().eq_ignore_ascii_case(k)) => Ok(()),
        _ => {
            bail!("unexpected {} after the quoted key {}: separate keys with commas", shown(c.peek_word()), shown(key))
        }
    }
}

fn non_empty(table: Option<String>, key: String, column: usize) -> Result<LookupKey> {
    if key.trim().is_empty() {
        bail!("empty key at character {column}");
    }
    Ok(LookupKey { table, key })
}
