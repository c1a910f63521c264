//! Bracket expressions (`[...]`) of glob patterns.
//!
//! A bracket expression is read exactly as CPython's `fnmatch.translate`
//! (3.11–3.13) reads it: the text between the brackets is split into chunks
//! at range hyphens, reversed ranges are removed, the chunks are joined back
//! with range hyphens, and the resulting set text is judged (empty, a lone
//! `!`, a leading `!`) and read the way Python's `re` reads a `[...]` set.
//! The result is a [`CharClass`]: a list of inclusive ranges, maybe negated.

/// A bracket expression after Python's range rules have been applied.
#[derive(Clone, Debug)]
pub(super) struct CharClass {
    /// Whether the class matches the characters *outside* `ranges`.
    negated: bool,
    /// Inclusive ranges, each with `lo <= hi`; a single member `c` is `(c, c)`.
    /// Empty means "no character" (or "every character" when negated).
    ranges: Box<[(char, char)]>,
}

impl CharClass {
    /// Whether `c` matches the class (one character of text).
    pub(super) fn contains(&self, c: char) -> bool {
        let member = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        member != self.negated
    }
}

/// One element of the set text `stuff` that `fnmatch.translate` puts between
/// `[` and `]` for `re`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetAtom {
    /// A character that stands for itself: translate escapes every `-` and
    /// `\` inside a chunk, and `re` takes any other character literally.
    Char(char),
    /// An unescaped `-` that translate put between two chunks: a range
    /// hyphen for `re`.
    RangeDash,
}

/// Parses the bracket expression whose body starts at byte `body_start` (just
/// after the `[`). Returns the class and the byte offset after its closing
/// `]`, or `None` when there is no closing `]` (then the `[` is a literal,
/// as translate's `add('\\[')`).
pub(super) fn parse_class(pattern: &str, body_start: usize) -> Option<(CharClass, usize)> {
    let rest = pattern.get(body_start..)?;
    let close = closing_bracket(rest)?;
    let class = class_from_body(rest.get(..close)?);
    Some((class, body_start + close + 1))
}

/// Byte offset in `body` of the `]` that closes the set, following
/// translate's `j` loop: skip a leading `!`, then a `]` right after `[` or
/// `[!` (a member), then search for the first `]`.
fn closing_bracket(body: &str) -> Option<usize> {
    let mut from = usize::from(body.starts_with('!'));
    if body[from..].starts_with(']') {
        from += 1;
    }
    Some(from + body[from..].find(']')?)
}

/// The class for the text between the brackets (translate's `stuff =
/// pat[i:j]`, leading `!` included), judged as translate does once the set
/// text is built: empty matches nothing (`(?!)`); exactly `!` matches any
/// character (`.`, which is a negated empty set); a leading `!` becomes `^`
/// and negates the rest. A leading `^` or `[`, which translate escapes, is
/// already a plain [`SetAtom::Char`] here.
fn class_from_body(body: &str) -> CharClass {
    let text: Vec<char> = body.chars().collect();
    let atoms = set_text(&text);
    let (negated, set) = match atoms.as_slice() {
        [SetAtom::Char('!'), rest @ ..] => (true, rest),
        all => (false, all),
    };
    CharClass {
        negated,
        ranges: read_set(set),
    }
}

/// The set text translate builds from `text`: used as is when it has no
/// `-` (`if '-' not in stuff`); otherwise split into chunks, with reversed
/// ranges removed, joined again by range hyphens (`'-'.join(...)`).
fn set_text(text: &[char]) -> Vec<SetAtom> {
    if !text.contains(&'-') {
        return text.iter().map(|&c| SetAtom::Char(c)).collect();
    }
    let mut chunks = split_chunks(text);
    remove_reversed_ranges(&mut chunks);
    join_chunks(&chunks)
}

/// Translate's chunk loop: `k = i+2 if pat[i] == '!' else i+1`; while
/// `pat.find('-', k, j)` finds a hyphen at `k`, append `pat[i:k]`, set
/// `i = k+1` and `k = k+3`. Then append the rest `pat[i:j]` if it is not
/// empty, or else add `'-'` to the last chunk.
fn split_chunks(text: &[char]) -> Vec<Vec<char>> {
    let mut chunks = Vec::new();
    let mut i = 0;
    let mut k = if text.first() == Some(&'!') { 2 } else { 1 };
    while let Some(dash) = find_dash(text, k) {
        chunks.push(text[i..dash].to_vec());
        i = dash + 1;
        k = dash + 3;
    }
    match (text.get(i..), chunks.last_mut()) {
        (Some(rest), _) if !rest.is_empty() => chunks.push(rest.to_vec()),
        (_, Some(last)) => last.push('-'),
        (_, None) => {}
    }
    chunks
}

/// `pat.find('-', k, j)`: the index of the first `-` at or after `from`
/// (`None` also when `from` is past the end).
fn find_dash(text: &[char], from: usize) -> Option<usize> {
    let at = text.get(from..)?.iter().position(|&c| c == '-')?;
    Some(from + at)
}

/// Translate's "Remove empty ranges -- invalid in RE": for `k` from
/// `len(chunks)-1` down to 1, if `chunks[k-1][-1] > chunks[k][0]`, set
/// `chunks[k-1] = chunks[k-1][:-1] + chunks[k][1:]` and `del chunks[k]`.
fn remove_reversed_ranges(chunks: &mut Vec<Vec<char>>) {
    for k in (1..chunks.len()).rev() {
        if is_reversed(&chunks[k - 1], &chunks[k]) {
            let hi_chunk = chunks.remove(k);
            let lo_chunk = &mut chunks[k - 1];
            lo_chunk.pop();
            lo_chunk.extend_from_slice(&hi_chunk[1..]);
        }
    }
}

/// The test `chunks[k-1][-1] > chunks[k][0]` (by code point). Translate
/// never compares an empty chunk; here that is simply "not reversed".
fn is_reversed(lo_chunk: &[char], hi_chunk: &[char]) -> bool {
    matches!((lo_chunk.last(), hi_chunk.first()), (Some(lo), Some(hi)) if lo > hi)
}

/// `'-'.join(s.replace('\\', r'\\').replace('-', r'\-') for s in chunks)`:
/// every character of a chunk is a plain member, and only the joining
/// hyphens are range hyphens.
fn join_chunks(chunks: &[Vec<char>]) -> Vec<SetAtom> {
    let mut atoms = Vec::new();
    for (n, chunk) in chunks.iter().enumerate() {
        if n > 0 {
            atoms.push(SetAtom::RangeDash);
        }
        atoms.extend(chunk.iter().map(|&c| SetAtom::Char(c)));
    }
    atoms
}

/// The ranges `re` reads from a set (its `_parser` loop over `[...]`): take
/// an item; if a range hyphen follows and something comes after it, the
/// three make an inclusive range, else the item is a single member. A range
/// hyphen read as an item (nothing before it, as right after `^`) or as the
/// end of a range is a plain `-`.
fn read_set(atoms: &[SetAtom]) -> Box<[(char, char)]> {
    let mut ranges = Vec::with_capacity(atoms.len());
    let mut rest = atoms;
    while let Some((&item, tail)) = rest.split_first() {
        let lo = atom_char(item);
        match tail {
            [SetAtom::RangeDash, hi, after @ ..] => {
                push_range(&mut ranges, lo, atom_char(*hi));
                rest = after;
            }
            _ => {
                ranges.push((lo, lo));
                rest = tail;
            }
        }
    }
    ranges.into_boxed_slice()
}

/// The character an atom stands for when `re` reads it as a member: an
/// unescaped `-` there is a literal `-` (`code1 = LITERAL, _ord(this)`).
fn atom_char(atom: SetAtom) -> char {
    match atom {
        SetAtom::Char(c) => c,
        SetAtom::RangeDash => '-',
    }
}

/// `re`'s `setappend((RANGE, (lo, hi)))`. Where `re` would raise "bad
/// character range" (`hi < lo`) the range is dropped; translate's removal
/// of reversed ranges means this does not happen.
fn push_range(ranges: &mut Vec<(char, char)>, lo: char, hi: char) {
    if lo <= hi {
        ranges.push((lo, hi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(negated, ranges)` of the class for the text between the brackets.
    fn class(body: &str) -> (bool, Vec<(char, char)>) {
        let class = class_from_body(body);
        (class.negated, class.ranges.to_vec())
    }

    #[test]
    fn class_ranges_follow_python_chunks() {
        assert_eq!(
            class("abc"),
            (false, vec![('a', 'a'), ('b', 'b'), ('c', 'c')])
        );
        assert_eq!(class("a-c"), (false, vec![('a', 'c')]));
        assert_eq!(class("-a"), (false, vec![('-', '-'), ('a', 'a')]));
        assert_eq!(class("a-"), (false, vec![('a', 'a'), ('-', '-')]));
        assert_eq!(
            class("a-c-e"),
            (false, vec![('a', 'c'), ('-', '-'), ('e', 'e')])
        );
        assert_eq!(class("--a"), (false, vec![('-', 'a')]));
        assert_eq!(class("a--"), (false, vec![])); // 'a' > '-': reversed, dropped
        assert_eq!(class("z-a"), (false, vec![]));
        assert_eq!(class("xz-ab"), (false, vec![('x', 'x'), ('b', 'b')]));
        assert_eq!(class("a-b--c"), (false, vec![('a', 'b'), ('-', 'c')]));
        assert_eq!(class("!-a"), (true, vec![('-', '-'), ('a', 'a')]));
        assert_eq!(class("!a-c"), (true, vec![('a', 'c')]));
        assert_eq!(class("]-a"), (false, vec![(']', 'a')]));
    }

    #[test]
    fn removing_reversed_ranges_can_expose_a_negation() {
        // `^-` reversed leaves `!` alone: any character.
        assert_eq!(class("^--!"), (true, vec![]));
        assert_eq!(class("a--!"), (true, vec![]));
        assert_eq!(class("z-a!"), (true, vec![]));
        // A `!` brought to the front negates the rest.
        assert_eq!(class("z-a!b"), (true, vec![('b', 'b')]));
        // ... and the range hyphen after it becomes a plain member.
        assert_eq!(class("z-a!-c"), (true, vec![('-', '-'), ('c', 'c')]));
        // A `^` brought to the front is a plain member.
        assert_eq!(class("!b-a^"), (true, vec![('^', '^')]));
        assert_eq!(class("z-a^b"), (false, vec![('^', '^'), ('b', 'b')]));
        // Nothing left: no character.
        assert_eq!(class("]-!"), (false, vec![]));
    }

    #[test]
    fn parse_class_finds_the_closing_bracket() {
        let (class, after) = parse_class("x[]a]y", 2).unwrap();
        assert_eq!(after, 5);
        assert_eq!(class.ranges.to_vec(), vec![(']', ']'), ('a', 'a')]);
        assert_eq!(parse_class("[!]", 1).map(|(_, after)| after), None);
        assert_eq!(parse_class("[!]]", 1).map(|(_, after)| after), Some(4));
        assert_eq!(parse_class("[ab", 1).map(|(_, after)| after), None);
    }
}
