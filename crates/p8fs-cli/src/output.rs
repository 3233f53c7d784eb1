//! Output for people: aligned tables, colour only on a terminal (and never with `NO_COLOR`
//! or `TERM=dumb`), progress bars on stderr only on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether stdout gets colour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and the environment does not forbid it.
    pub(crate) fn detect() -> Self {
        let forbidden = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Self { color: !forbidden && std::io::stdout().is_terminal() }
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }

    pub(crate) fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }

    pub(crate) fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }

    pub(crate) fn green(self, s: &str) -> String {
        self.paint("32", s)
    }

    pub(crate) fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }

    pub(crate) fn red(self, s: &str) -> String {
        self.paint("31", s)
    }
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table: a header row and aligned columns, widths measured in characters.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

/// Longest cell shown; longer values are cut with an ellipsis.
const MAX_CELL: usize = 72;

fn clip(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= MAX_CELL {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    }
}

impl Table {
    pub(crate) fn new(headers: &[(&str, Align)]) -> Self {
        Self { headers: headers.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect(), rows: Vec::new() }
    }

    /// Adds a row; cells are cut to one line of at most 72 characters, except the last
    /// column's, which is only made one line.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let n = cells.len();
        self.rows.push(
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 == n { c.chars().map(|c| if c.is_control() { ' ' } else { c }).collect() } else { clip(c) }
                })
                .collect(),
        );
    }

    /// The table as text, headers styled.
    pub(crate) fn render(&self, style: Style) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|(h, _)| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: Vec<String>| -> String {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate().take(n) {
                let pad = widths[i].saturating_sub(c.chars().count());
                let last = i + 1 == n;
                match self.headers[i].1 {
                    Align::Right => {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(c);
                    }
                    Align::Left => {
                        out.push_str(c);
                        if !last {
                            out.push_str(&" ".repeat(pad));
                        }
                    }
                }
                if !last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        let header = line(self.headers.iter().map(|(h, _)| h.clone()).collect());
        out.push(style.bold(&header));
        for r in &self.rows {
            out.push(line(r.clone()));
        }
        out.join("\n")
    }
}

/// A progress bar on stderr with rate and ETA; drawn only when stderr is a terminal.
pub(crate) fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {what:<10} [{{bar:32}}] {{pos}}/{{len}}  {{per_sec}}  ETA {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A spinner for work of unknown length (an export), with a count and a rate.
pub(crate) fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {what:<10} {{pos}}  {{per_sec}}  {{elapsed}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Milliseconds, for people.
pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 10_000.0 { format!("{:.1} s", ms / 1e3) } else { format!("{ms:.1} ms") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_long_cells_are_cut() {
        let mut t = Table::new(&[("score", Align::Right), ("name", Align::Left), ("id", Align::Left)]);
        t.row(vec!["0.912".into(), "a".into(), "x".into()]);
        t.row(vec!["0.5".into(), "longer name".into(), "y\nz".into()]);
        t.row(vec!["1".into(), "n".repeat(100), "w".repeat(100)]);
        let text = t.render(Style { color: false });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("score  {:<72}  id", "name"));
        assert_eq!(lines[1], format!("0.912  {:<72}  x", "a"));
        assert_eq!(lines[2], format!("  0.5  {:<72}  y z", "longer name"));
        assert!(lines[3].contains('…') && lines[3].chars().count() == 7 + 72 + 2 + 100, "the last column is whole");
        assert!(!text.contains('\x1b'), "no colour when not asked");
        assert!(Style { color: true }.bold("h").contains("\x1b[1m"));
    }
}
