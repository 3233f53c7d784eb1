//! `TRAVERSE [PLAN] [types] WITH (LOOKUP keys | SEARCH text [LIMIT n]) [DEPTH n]
//! [IN table] [LIMIT n] [PLAN]`.

use crate::ast::{RemQuery, Seed, TraverseQuery};
use crate::error::{Result, bail, shown};
use crate::keys::{self, TRAVERSE_CLAUSES};
use crate::lexer::{Cursor, ident, is_quote, limit, number};
use crate::{MAX_DEPTH, MAX_IDENT_LEN};

const NEEDS_WITH: &str = "TRAVERSE needs WITH LOOKUP keys or WITH SEARCH \"text\"";

/// The rest of a query after `TRAVERSE`.
pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<RemQuery> {
    let plan = c.eat_keyword("PLAN");
    let edge_types = edge_types(c)?;
    let seed = seed(c)?;
    let mut q = TraverseQuery { edge_types, seed, depth: None, plan, table: None, limit: None };
    loop {
        let word = c.word();
        if word.is_empty() {
            match c.peek() {
                Some(ch) => bail!("unexpected {} in TRAVERSE", shown(&ch.to_string())),
                None => return Ok(RemQuery::Traverse(q)),
            }
        }
        match word.to_ascii_uppercase().as_str() {
            "DEPTH" => {
                let n = number(&c.value()?, "DEPTH")?;
                if q.depth.is_some() {
                    bail!("DEPTH given twice in TRAVERSE");
                }
                match u32::try_from(n) {
                    Ok(d) if d <= MAX_DEPTH => q.depth = Some(d),
                    _ => bail!("DEPTH must be between 0 and {MAX_DEPTH}, got {n}"),
                }
            }
            "IN" => {
                if q.table.is_some() {
                    bail!("IN given twice in TRAVERSE");
                }
                q.table = Some(ident(&c.value()?, "a table name after IN")?);
            }
            "LIMIT" => {
                if q.limit.is_some() {
                    bail!("LIMIT given twice in TRAVERSE");
                }
                q.limit = Some(limit(&c.value()?)?);
            }
            "PLAN" => {
                if q.plan {
                    bail!("PLAN given twice in TRAVERSE");
                }
                q.plan = true;
            }
            _ => bail!("unexpected {} in TRAVERSE: expected DEPTH n, IN table, LIMIT n or PLAN", shown(word)),
        }
    }
}

/// The edge types before `WITH`, comma-separated, possibly none; `WITH` consumed.
fn edge_types(c: &mut Cursor<'_>) -> Result<Vec<String>> {
    let mut types = Vec::new();
    loop {
        if c.at_end() {
            bail!("{NEEDS_WITH}");
        }
        if c.eat_keyword("WITH") {
            return Ok(types);
        }
        let column = c.column(c.pos());
        let t = c.value()?;
        if t.is_empty() {
            bail!("empty edge type at character {column}");
        }
        let valid =
            t.len() <= MAX_IDENT_LEN && t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if !valid {
            bail!(
                "expected an edge type, got {}: edge types are letters, digits, _ and -, at most {MAX_IDENT_LEN} bytes",
                shown(&t)
            );
        }
        types.push(t);
        if c.eat(',') {
            if c.peek_word().eq_ignore_ascii_case("WITH") {
                bail!("empty edge type after the last comma, before WITH");
            }
        } else if !c.peek_word().eq_ignore_ascii_case("WITH") {
            if c.at_end() {
                bail!("{NEEDS_WITH}");
            }
            bail!(
                "expected a comma or WITH after the edge type {}, got {}",
                shown(types.last().map_or("", String::as_str)),
                shown(c.peek_word())
            );
        }
    }
}

/// `LOOKUP keys` or `SEARCH text [LIMIT n]`, after `WITH`.
fn seed(c: &mut Cursor<'_>) -> Result<Seed> {
    if c.eat_keyword("LOOKUP") {
        if c.at_end() || is_clause(c.peek_word()) {
            bail!("WITH LOOKUP needs at least one key (quote a key named like a clause: \"depth\")");
        }
        return Ok(Seed::Lookup { keys: keys::list(c, true)? });
    }
    if c.eat_keyword("SEARCH") {
        let text = if c.peek().is_some_and(is_quote) {
            c.quoted()?
        } else {
            let rest = c.rest();
            let end = clause_start(rest);
            c.seek(c.pos() + end);
            rest[..end].trim().to_owned()
        };
        if text.trim().is_empty() {
            bail!("WITH SEARCH needs a text to search for");
        }
        // A LIMIT right after the text is the seed's; a later one is the traversal's.
        let limit = if c.eat_keyword("LIMIT") { Some(limit(&c.value()?)?) } else { None };
        return Ok(Seed::Search { text, limit });
    }
    if c.at_end() {
        bail!("{NEEDS_WITH}");
    }
    bail!("expected LOOKUP or SEARCH after WITH, got {}", shown(c.peek_word()))
}

fn is_clause(word: &str) -> bool {
    TRAVERSE_CLAUSES.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Where the first clause word standing alone (whitespace around it) starts in `rest`,
/// or its length.
fn clause_start(rest: &str) -> usize {
    let mut prev_space = true;
    for (i, ch) in rest.char_indices() {
        if prev_space && !ch.is_whitespace() {
            let end = rest[i..].find(char::is_whitespace).map_or(rest.len(), |e| i + e);
            if is_clause(&rest[i..end]) {
                return i;
            }
        }
        prev_space = ch.is_whitespace();
    }
    rest.len()
}
