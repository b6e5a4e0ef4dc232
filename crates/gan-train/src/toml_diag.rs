//! Where in a TOML file a config error is.
//!
//! serde reads an internally tagged enum (`[generator] arch = "mlp"`, `[data] kind = ...`,
//! `[model] family = ...`) by buffering the whole table first, so an error inside it (a wrong
//! type in `[generator.mlp]`, an unknown key there) reaches toml without its own position:
//! toml then points at the enclosing table's header and cannot name the key. This module
//! finds the key itself: it parses the text with `toml_edit` (which keeps every key's and
//! value's position), and for each leaf value asks whether removing it changes the error.
//! Of the leaves that do, the one that the message mentions (its key, or its value as serde
//! quotes it) is the culprit. Errors that toml already places exactly are placed the same
//! way, so every parse error names the dotted key and its own line and column.
//!
//! [`locate`] does the same for a validation error, which names a dotted key: it finds that
//! key in the text.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml_edit::{DocumentMut, ImDocument, Item, Value};

/// A position in the config text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// That line's text, for a snippet.
    pub text: String,
}

impl Place {
    pub(crate) fn at(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        Place {
            line: before.matches('\n').count() + 1,
            column: text[line_start..offset].chars().count() + 1,
            text: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
        }
    }

    /// ` 22 | width = "wide"` with a caret under the column on the next line.
    pub fn snippet(&self) -> String {
        let number = self.line.to_string();
        format!(
            "{number} | {}\n{} | {}^",
            self.text,
            " ".repeat(number.len()),
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

/// A value of the document with its dotted key and positions.
struct Leaf {
    path: Vec<String>,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    /// How serde quotes the value in its messages (`"wide"`, `` `wide` ``, `` `5` ``).
    quoted: Vec<String>,
    /// A table's header (`key` is the header's span), not a value.
    table: bool,
}

fn quoted(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![format!("{:?}", s.value()), format!("`{}`", s.value())],
        Value::Integer(i) => vec![format!("`{}`", i.value())],
        Value::Float(f) => vec![format!("`{}`", f.value())],
        Value::Boolean(b) => vec![format!("`{}`", b.value())],
        _ => Vec::new(),
    }
}

fn collect(path: &mut Vec<String>, item: &Item, key: Option<Range<usize>>, out: &mut Vec<Leaf>) {
    match item {
        Item::Table(t) => {
            if let Some(span) = t.span() {
                out.push(Leaf {
                    path: path.clone(),
                    key: Some(span),
                    value: None,
                    quoted: Vec::new(),
                    table: true,
                });
            }
            for (k, child) in t.iter() {
                path.push(k.to_string());
                collect(path, child, t.key(k).and_then(|k| k.span()), out);
                path.pop();
            }
        }
        Item::Value(Value::InlineTable(t)) => {
            for (k, child) in t.iter() {
                path.push(k.to_string());
                let child = Item::Value(child.clone());
                collect(path, &child, t.key(k).and_then(|k| k.span()), out);
                path.pop();
            }
        }
        Item::Value(v) => out.push(Leaf {
            path: path.clone(),
            key,
            value: v.span(),
            quoted: quoted(v),
            table: false,
        }),
        Item::ArrayOfTables(a) => out.push(Leaf {
            path: path.clone(),
            key,
            value: a.span(),
            quoted: Vec::new(),
            table: false,
        }),
        Item::None => {}
    }
}

/// `text` without the value at `path`, or `None` where it cannot be removed.
fn without(text: &str, path: &[String]) -> Option<String> {
    let mut doc: DocumentMut = text.parse().ok()?;
    let (last, parents) = path.split_last()?;
    let mut table = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
    for p in parents {
        table = table.get_mut(p)?.as_table_like_mut()?;
    }
    table.remove(last)?;
    Some(doc.to_string())
}

/// The dotted key and position of what `err` (from parsing `text` as `T`) is about.
/// `None` where the text is not valid TOML at all (toml's own position is exact then).
pub(crate) fn diagnose<T: DeserializeOwned>(
    text: &str,
    err: &toml::de::Error,
) -> Option<(Option<String>, Place)> {
    let fallback = err.span().map(|s| Place::at(text, s.start));
    let doc = ImDocument::parse(text).ok()?;
    let mut leaves = Vec::new();
    collect(&mut Vec::new(), doc.as_item(), None, &mut leaves);
    let message = err.message();
    let start = err.span().map(|s| s.start);
    let mut changed = Vec::new();
    for leaf in leaves.iter().filter(|l| !l.table) {
        let Some(rest) = without(text, &leaf.path) else {
            continue;
        };
        // The same error is the same message at the same place, which moves up by what was
        // removed when that was above it. (The same message elsewhere is another value's.)
        let removed = text.len().saturating_sub(rest.len());
        match toml::from_str::<T>(&rest) {
            Ok(_) => changed.push((leaf, true)),
            Err(e) => {
                let now = e.span().map(|s| s.start);
                let same = e.message() == message
                    && (now == start || now == start.map(|s| s.saturating_sub(removed)));
                if !same {
                    changed.push((leaf, false));
                }
            }
        }
    }
    let mentioned = |leaf: &Leaf| {
        let name = format!("`{}`", leaf.path.last().map_or("", String::as_str));
        message.contains(&name) || leaf.quoted.iter().any(|q| message.contains(q.as_str()))
    };
    let culprit = changed
        .iter()
        .find(|(leaf, _)| mentioned(leaf))
        .or_else(|| changed.iter().find(|(_, fixed)| *fixed))
        .map(|(leaf, _)| *leaf)
        .or_else(|| {
            // Two values with the same mistake in one buffered table: removing either leaves
            // the same error at the same header. serde reads a table in document order, so
            // the first value there that the message mentions is the one it met.
            let header = leaves
                .iter()
                .find(|l| l.table && l.key.as_ref().map(|k| k.start) == start)?;
            leaves
                .iter()
                .find(|l| !l.table && l.path.starts_with(&header.path) && mentioned(l))
        });
    match culprit {
        Some(leaf) => {
            // An unknown key is the key's fault; anything else is the value's.
            let span = if message.starts_with("unknown field") {
                leaf.key.clone().or(leaf.value.clone())
            } else {
                leaf.value.clone().or(leaf.key.clone())
            };
            let place = span.map(|s| Place::at(text, s.start)).or(fallback)?;
            Some((Some(leaf.path.join(".")), place))
        }
        None => Some((None, fallback?)),
    }
}

/// The position of dotted `key` (a value, or a table's header) in `text`, if it is there.
/// Keys with an index (`data.classes[2]`) or a suffix the text lacks fall back to the
/// longest prefix that is there.
pub(crate) fn locate(text: &str, key: &str) -> Option<Place> {
    let doc = ImDocument::parse(text).ok()?;
    let key = key.split('[').next().unwrap_or(key);
    let mut best = None;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    for part in key.split('.') {
        let Some((k, item)) = table.get_key_value(part) else {
            break;
        };
        best = item.span().or_else(|| k.span()).or(best);
        match item.as_table_like() {
            Some(t) => table = t,
            None => break,
        }
    }
    best.map(|s| Place::at(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Top {
        name: String,
        inner: Tagged,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Tagged {
        Mlp { latent: usize, mlp: Deep },
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Deep {
        width: usize,
        #[serde(default)]
        depth: usize,
    }

    const GOOD: &str = "name = \"x\"\n\n[inner]\narch = \"mlp\"\nlatent = 2\n\n[inner.mlp]\nwidth = 3\ndepth = 4\n";

    fn diag(text: &str) -> (Option<String>, Place) {
        let err = toml::from_str::<Top>(text).unwrap_err();
        diagnose::<Top>(text, &err).unwrap()
    }

    #[test]
    fn a_wrong_type_inside_a_tagged_table_is_placed_at_its_value() {
        toml::from_str::<Top>(GOOD).unwrap();
        let (key, place) = diag(&GOOD.replace("width = 3", "width = \"wide\""));
        assert_eq!(key.as_deref(), Some("inner.mlp.width"));
        assert_eq!((place.line, place.column), (8, 9));
        assert!(place.snippet().contains("8 | width = \"wide\""));
    }

    #[test]
    fn the_first_of_two_equal_mistakes_is_the_one_named() {
        let two = GOOD
            .replace("width = 3", "width = \"wide\"")
            .replace("latent = 2", "latent = \"wide\"");
        let (key, place) = diag(&two);
        assert_eq!(key.as_deref(), Some("inner.latent"));
        assert_eq!(place.line, 5);
    }

    #[test]
    fn an_unknown_key_inside_a_tagged_table_is_placed_at_the_key() {
        let (key, place) = diag(&GOOD.replace("depth = 4", "depht = 4"));
        assert_eq!(key.as_deref(), Some("inner.mlp.depht"));
        assert_eq!((place.line, place.column), (9, 1));
    }

    #[test]
    fn an_unknown_variant_names_the_tag() {
        let (key, place) = diag(&GOOD.replace("\"mlp\"", "\"mpl\""));
        assert_eq!(key.as_deref(), Some("inner.arch"));
        assert_eq!(place.line, 4);
    }

    #[test]
    fn a_top_level_error_is_placed_too() {
        let (key, place) = diag(&GOOD.replace("name = \"x\"", "name = 5"));
        assert_eq!(key.as_deref(), Some("name"));
        assert_eq!((place.line, place.column), (1, 8));
    }

    #[test]
    fn a_missing_key_keeps_tomls_position() {
        let (key, _) = diag(&GOOD.replace("width = 3\n", ""));
        assert_eq!(key, None);
    }

    #[test]
    fn locate_finds_values_tables_and_prefixes() {
        assert_eq!(locate(GOOD, "inner.mlp.depth").unwrap().line, 9);
        assert_eq!(locate(GOOD, "inner.latent").unwrap().line, 5);
        assert_eq!(locate(GOOD, "inner.mlp").unwrap().line, 7);
        assert_eq!(locate(GOOD, "inner.mlp.nothing").unwrap().line, 7);
        assert_eq!(locate(GOOD, "other"), None);
    }
}
