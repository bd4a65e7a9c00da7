//! A reader for the subset of YAML that Serverless Devs' `s.yaml` uses: nested block mappings of
//! scalars. It accepts exactly that subset and rejects everything else (sequences, flow
//! collections, anchors, tags, block scalars, tabs, duplicate keys) with an error, so a construct
//! it does not understand cannot be misread silently, and no YAML crate is needed.

/// A scalar as written: `quoted` tells a YAML string (`'22'`) from a plain scalar (`22`, which
/// YAML reads as a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The value, unquoted and unescaped.
    pub text: String,
    /// Whether it was quoted.
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A node of the small YAML subset `s.yaml` is written in.
pub enum Node {
    /// A scalar.
    Scalar(Scalar),
    /// Entries in file order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Node::Scalar(_) => None,
        }
    }

    /// The value at a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            Node::Map(_) => None,
        }
    }

    /// A mapping's entries in file order (none for a scalar).
    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            Node::Scalar(_) => &[],
        }
    }
}

/// One significant line: 1-based number, indentation, content without the indentation.
struct Line<'a> {
    number: usize,
    indent: usize,
    content: &'a str,
}

/// Reads the block-mapping subset; anything else is an error naming the line.
pub fn parse_yaml(text: &str) -> Result<Node, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let content = raw.trim_start_matches(' ');
        if content.starts_with('\t') {
            return Err(format!("line {number}: tab in indentation"));
        }
        if content.trim().is_empty() || content.starts_with('#') {
            continue;
        }
        lines.push(Line {
            number,
            indent: raw.len() - content.len(),
            content: content.trim_end(),
        });
    }
    let mut pos = 0;
    let root = parse_map(&lines, &mut pos, 0)?;
    match lines.get(pos) {
        None => Ok(root),
        Some(line) => Err(format!("line {}: unexpected indentation", line.number)),
    }
}

/// The mapping whose keys sit at exactly `indent`, starting at `lines[*pos]`.
fn parse_map(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Node, String> {
    let mut entries: Vec<(String, Node)> = Vec::new();
    while let Some(line) = lines.get(*pos) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err(format!("line {}: unexpected indentation", line.number));
        }
        let (key, rest) = split_key(line)?;
        if entries.iter().any(|(k, _)| k == key) {
            return Err(format!("line {}: duplicate key {key:?}", line.number));
        }
        *pos += 1;
        let value = if rest.is_empty() {
            match lines.get(*pos) {
                Some(next) if next.indent > indent => parse_map(lines, pos, next.indent)?,
                _ => return Err(format!("line {}: {key:?} has no value", line.number)),
            }
        } else {
            Node::Scalar(parse_scalar(rest).map_err(|e| format!("line {}: {e}", line.number))?)
        };
        entries.push((key.to_string(), value));
    }
    Ok(Node::Map(entries))
}

/// `key:` or `key: value` with a plain key.
fn split_key<'a>(line: &Line<'a>) -> Result<(&'a str, &'a str), String> {
    let content = line.content;
    if content.starts_with('-') {
        return Err(format!(
            "line {}: sequences and document markers are not supported",
            line.number
        ));
    }
    let colon = content
        .find(':')
        .ok_or_else(|| format!("line {}: expected `key: value`", line.number))?;
    let key = &content[..colon];
    let rest = &content[colon + 1..];
    let plain_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !plain_key {
        return Err(format!("line {}: unsupported key {key:?}", line.number));
    }
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(format!("line {}: expected a space after ':'", line.number));
    }
    let rest = rest.trim_start();
    let rest = if rest.starts_with('#') { "" } else { rest };
    Ok((key, rest))
}

fn parse_scalar(value: &str) -> Result<Scalar, String> {
    if let Some(body) = value.strip_prefix('\'') {
        // Single-quoted: '' is a quote, nothing else is special.
        let mut text = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                text.push(c);
            } else if chars.peek().map(|&(_, c)| c) == Some('\'') {
                text.push('\'');
                chars.next();
            } else {
                only_comment_after(&body[i + 1..])?;
                return Ok(Scalar { text, quoted: true });
            }
        }
        return Err(format!("unterminated string {value:?}"));
    }
    if let Some(body) = value.strip_prefix('"') {
        let end = body
            .find('"')
            .ok_or_else(|| format!("unterminated string {value:?}"))?;
        if body[..end].contains('\\') {
            return Err(format!("escapes are not supported in {value:?}"));
        }
        only_comment_after(&body[end + 1..])?;
        return Ok(Scalar {
            text: body[..end].to_string(),
            quoted: true,
        });
    }
    let text = match value.find(" #") {
        Some(i) => value[..i].trim_end(),
        None => value,
    };
    let first = text.chars().next().unwrap_or(' ');
    if "[]{}&*!|>%@`,?:-#".contains(first) || text.contains(": ") {
        return Err(format!("unsupported plain scalar {text:?}"));
    }
    Ok(Scalar {
        text: text.to_string(),
        quoted: false,
    })
}

fn only_comment_after(rest: &str) -> Result<(), String> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected {rest:?} after a quoted string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_nested_mappings_quoted_and_plain_scalars_and_comments() {
        let node =
            parse_yaml("a:\n  b: 'x # y' # note\n  c: \"it\"\n  d: 1 # one\n# end\n").unwrap();
        let scalar = |keys: &[&str]| node.path(keys).and_then(Node::scalar).cloned().unwrap();
        assert_eq!(
            scalar(&["a", "b"]),
            Scalar {
                text: "x # y".into(),
                quoted: true
            }
        );
        assert_eq!(scalar(&["a", "c"]).text, "it");
        assert_eq!(
            scalar(&["a", "d"]),
            Scalar {
                text: "1".into(),
                quoted: false
            }
        );
        assert_eq!(
            parse_yaml("a: 'it''s'")
                .unwrap()
                .path(&["a"])
                .and_then(Node::scalar)
                .unwrap()
                .text,
            "it's"
        );
    }

    #[test]
    fn reader_rejects_yaml_it_does_not_understand() {
        for (text, expected) in [
            ("a:\n  - b\n", "sequences"),
            ("a: [1, 2]\n", "unsupported plain scalar"),
            ("a: {b: 1}\n", "unsupported plain scalar"),
            ("a: &x 1\n", "unsupported plain scalar"),
            ("a: |\n  text\n", "unsupported plain scalar"),
            ("a:\n\tb: 1\n", "tab"),
            ("a: 1\na: 2\n", "duplicate key"),
            ("a:\nb: 1\n", "has no value"),
            ("a: 1\n  b: 2\n", "unexpected indentation"),
            ("a: 'open\n", "unterminated"),
            ("a: \"x\\ty\"\n", "escapes"),
            ("\"a\": 1\n", "unsupported key"),
        ] {
            let err = parse_yaml(text).expect_err(text);
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
