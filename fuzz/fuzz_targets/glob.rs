//! Fuzz target: `clockwheel::glob::Pattern` against an independent matcher.
//!
//! For any pattern and text: `Pattern::new` never panics and fails only for a pattern
//! longer than `Pattern::MAX_LEN` bytes; `matches` agrees with [`Oracle`], a direct
//! transcription of CPython 3.11's `fnmatch.translate` (the reference) into a token list,
//! matched by memoized backtracking; every match starts with `literal_prefix()`, and a
//! literal pattern matches exactly its own text.

#![no_main]

use arbitrary::Arbitrary;
use clockwheel::glob::{Pattern, PatternErrorKind};
use libfuzzer_sys::fuzz_target;

/// A pattern and a text; the text is also tried against prefixes of itself so that
/// matches are not vanishingly rare.
#[derive(Arbitrary, Debug)]
struct Input {
    pattern: String,
    text: String,
}

/// One element of a translated pattern.
#[derive(Clone, Debug)]
enum Tok {
    /// `*`: any run of characters (newlines included).
    Star,
    /// `?`, or the negated empty set `[!]`-after-range-removal: any one character.
    Any,
    Lit(char),
    /// `[...]`: one character in (or, negated, not in) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A set left empty by range removal: matches nothing.
    Never,
}

/// The pattern, translated as CPython 3.11's `fnmatch.translate` does.
struct Oracle(Vec<Tok>);

impl Oracle {
    fn new(pattern: &str) -> Self {
        let pat: Vec<char> = pattern.chars().collect();
        let (mut toks, mut i) = (Vec::new(), 0);
        while i < pat.len() {
            let c = pat[i];
            i += 1;
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '[' => match closing_bracket(&pat, i) {
                    None => toks.push(Tok::Lit('[')),
                    Some(j) => {
                        toks.push(class(&pat[i..j]));
                        i = j + 1;
                    }
                },
                c => toks.push(Tok::Lit(c)),
            }
        }
        Oracle(toks)
    }

    /// `ok[p][t]`: tokens `p..` match text `t..`, filled from the ends backwards.
    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (np, nt) = (self.0.len(), text.len());
        let mut ok = vec![vec![false; nt + 1]; np + 1];
        ok[np][nt] = true;
        for p in (0..np).rev() {
            for t in (0..=nt).rev() {
                ok[p][t] = match &self.0[p] {
                    Tok::Star => ok[p + 1][t] || (t < nt && ok[p][t + 1]),
                    tok => t < nt && one(tok, text[t]) && ok[p + 1][t + 1],
                };
            }
        }
        ok[0][0]
    }
}

/// Index of the `]` closing a set opened just before `i`, as `translate` scans it: a
/// `!` then a `]` right after the `[` are part of the set.
fn closing_bracket(pat: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if pat.get(j) == Some(&'!') {
        j += 1;
    }
    if pat.get(j) == Some(&']') {
        j += 1;
    }
    (j..pat.len()).find(|&j| pat[j] == ']')
}

/// The set `[stuff]`: split at the hyphens that form ranges (a hyphen right after the
/// `[`, or after `[!`, is literal), drop empty ranges by merging their neighbours, as
/// `translate` does, then read each chunk boundary as a range.
fn class(stuff: &[char]) -> Tok {
    let negated = stuff.first() == Some(&'!');
    let mut chunks: Vec<Vec<char>> = Vec::new();
    if stuff.contains(&'-') {
        let (mut start, mut k) = (0, if negated { 2 } else { 1 });
        while let Some(h) = (k..stuff.len()).find(|&h| stuff[h] == '-') {
            chunks.push(stuff[start..h].to_vec());
            start = h + 1;
            k = h + 3;
        }
        match &stuff[start.min(stuff.len())..] {
            [] => chunks.last_mut().expect("a hyphen was found").push('-'),
            rest => chunks.push(rest.to_vec()),
        }
        for k in (1..chunks.len()).rev() {
            if chunks[k - 1].last() > chunks[k].first() {
                let next = chunks.remove(k);
                chunks[k - 1].pop();
                chunks[k - 1].extend_from_slice(&next[1..]);
            }
        }
    } else {
        chunks.push(stuff.to_vec());
    }
    ranges(chunks)
}

/// Reads the chunks as `chunk0 - chunk1 - ...`: literals, and a range from the last
/// character of each chunk to the first of the next.
fn ranges(mut chunks: Vec<Vec<char>>) -> Tok {
    let flat: Vec<char> = chunks.concat();
    if flat.is_empty() {
        return Tok::Never;
    }
    if flat == ['!'] {
        return Tok::Any;
    }
    let negated = flat[0] == '!';
    if negated {
        chunks[0].remove(0);
    }
    let mut ranges = Vec::new();
    for (n, chunk) in chunks.iter().enumerate() {
        let first = usize::from(n > 0); // taken by the range from the previous chunk
        let last = chunk.len() - usize::from(n + 1 < chunks.len());
        ranges.extend(chunk[first.min(last)..last].iter().map(|&c| (c, c)));
        if n + 1 < chunks.len() {
            ranges.push((chunk[chunk.len() - 1], chunks[n + 1][0]));
        }
    }
    Tok::Class { negated, ranges }
}

fn one(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Any => true,
        Tok::Lit(l) => *l == c,
        Tok::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
        Tok::Never => false,
        Tok::Star => unreachable!("stars are handled by the matcher"),
    }
}

fuzz_target!(|input: Input| {
    let Input { pattern, text } = input;
    let compiled = match Pattern::new(&pattern) {
        Ok(p) => p,
        Err(e) => {
            assert!(pattern.len() > Pattern::MAX_LEN, "{pattern:?} refused: {e}");
            assert!(matches!(e.kind(), PatternErrorKind::TooLong { .. }));
            return;
        }
    };
    assert!(pattern.len() <= Pattern::MAX_LEN);
    assert_eq!(compiled.as_str(), pattern);
    let oracle = Oracle::new(&pattern);
    // The text, its prefixes at a few char boundaries, and the pattern's own text.
    let mut texts: Vec<&str> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .step_by(1 + text.len() / 8)
        .map(|i| &text[..i])
        .collect();
    texts.extend([text.as_str(), pattern.as_str(), compiled.literal_prefix()]);
    for t in texts {
        let got = compiled.matches(t);
        assert_eq!(got, oracle.matches(t), "pattern {pattern:?} text {t:?}");
        if got {
            assert!(
                t.starts_with(compiled.literal_prefix()),
                "prefix of {pattern:?}"
            );
        }
        if compiled.is_literal() {
            assert_eq!(got, t == pattern, "literal {pattern:?} against {t:?}");
        }
    }
});
