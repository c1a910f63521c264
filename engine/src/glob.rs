//! Shell-style glob patterns with the semantics of Python's
//! `fnmatch.fnmatchcase`.
//!
//! The S3verless reference removes keys by pattern with `fnmatch` on a
//! case-sensitive platform, so a [`Pattern`] accepts exactly the same syntax
//! and gives exactly the same answers (checked against CPython in this crate's
//! tests):
//!
//! | syntax    | matches                                                        |
//! |-----------|----------------------------------------------------------------|
//! | `*`       | any run of characters, including none and including newlines   |
//! | `?`       | exactly one character (one `char`, not one byte)               |
//! | `[abc]`   | one character from the set                                     |
//! | `[a-z]`   | one character in the inclusive range (by code point)           |
//! | `[!abc]`  | one character *not* in the set                                 |
//! | anything else | itself; there is no escape character                       |
//!
//! Python's corner cases are reproduced as well: a `[` with no closing `]`
//! is a literal `[`; a `]` right after `[` or `[!` is a member of the set; a
//! `-` that cannot form a range (first, last, or right after a range) is a
//! literal member; a reversed range such as `[z-a]` contributes nothing, so
//! `[z-a]` matches no character and `[!z-a]` matches any character.
//! Like `fnmatch.translate`, the set is judged on what is left once reversed
//! ranges are gone, so a `!` that this brings to the front negates the set:
//! `[z-a!b]` is `[!b]`, and `[^--!]` (where `^-` is reversed) matches any
//! character.
//!
//! Matching never backtracks exponentially: it uses the classic greedy-star
//! algorithm with a single resume point, so a match costs at most
//! O(pattern length × text length) steps, whatever the pattern.
//!
//! ```
//! use clockwheel::glob::Pattern;
//!
//! let p = Pattern::new("s3v:list:Product:*")?;
//! assert!(p.matches("s3v:list:Product:0123456789ab"));
//! assert!(!p.matches("s3v:model:Product:42"));
//! assert_eq!(p.literal_prefix(), "s3v:list:Product:");
//! # Ok::<(), clockwheel::glob::PatternError>(())
//! ```

use std::error::Error;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

mod class;

use class::{parse_class, CharClass};

/// A compiled shell-style glob pattern (Python `fnmatch.fnmatchcase`
/// semantics; see the [module documentation](self) for the syntax).
///
/// Two patterns are equal when their source texts are equal.
///
/// ```
/// use clockwheel::glob::Pattern;
///
/// let p: Pattern = "user:[0-9]?:*".parse()?;
/// assert!(p.matches("user:42:profile"));
/// assert!(!p.matches("user:x2:profile"));
/// assert_eq!(p.to_string(), "user:[0-9]?:*");
/// # Ok::<(), clockwheel::glob::PatternError>(())
/// ```
#[derive(Clone)]
pub struct Pattern {
    source: Box<str>,
    /// Invariant: a pure function of `source` (so equality and hashing may
    /// look at `source` alone); no two `Star`s are adjacent; no two
    /// `Literal`s are adjacent (runs are merged).
    tokens: Box<[Token]>,
}

/// One step of a compiled pattern. Every token except `Star` consumes a
/// fixed amount of text, which is what makes the single-resume-point match
/// algorithm exact.
#[derive(Clone, Debug)]
enum Token {
    /// The literal text `source[start..end]` (whole UTF-8 characters).
    Literal { start: usize, end: usize },
    /// `?`: any single character.
    AnyChar,
    /// `*`: any run of characters.
    Star,
    /// `[...]`: a single character tested against a set.
    Class(CharClass),
}

/// Why a pattern was rejected by [`Pattern::new`].
///
/// Python's `fnmatch` accepts every string, and so does [`Pattern`], with a
/// single exception: a pattern longer than [`Pattern::MAX_LEN`] bytes. Keys
/// are matched in O(pattern × key) time, and `delete_pattern` runs a pattern
/// against every key of a cache, so the limit bounds the work one (possibly
/// untrusted) pattern can cause. Everything else — an empty pattern (which
/// matches only the empty key), unbalanced brackets, NUL or any other
/// character — is valid, because the reference accepts it too and cache keys
/// may legitimately contain it.
///
/// ```
/// use clockwheel::glob::{Pattern, PatternError};
///
/// let long = "a".repeat(Pattern::MAX_LEN + 1);
/// let err: PatternError = Pattern::new(&long).unwrap_err();
/// assert_eq!(err.position(), Pattern::MAX_LEN);
/// assert!(err.to_string().contains("4097 bytes"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    kind: PatternErrorKind,
    position: usize,
}

/// The kind of a [`PatternError`].
///
/// ```
/// use clockwheel::glob::{Pattern, PatternErrorKind};
///
/// let err = Pattern::new(&"*".repeat(5000)).unwrap_err();
/// assert_eq!(
///     err.kind(),
///     PatternErrorKind::TooLong { len: 5000, max: Pattern::MAX_LEN }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern is `len` bytes long, more than the `max` allowed.
    TooLong {
        /// Length of the rejected pattern, in bytes.
        len: usize,
        /// The limit, [`Pattern::MAX_LEN`].
        max: usize,
    },
}

impl PatternError {
    /// What is wrong with the pattern.
    ///
    /// ```
    /// use clockwheel::glob::{Pattern, PatternErrorKind};
    ///
    /// let err = Pattern::new(&"x".repeat(4097)).unwrap_err();
    /// assert!(matches!(err.kind(), PatternErrorKind::TooLong { .. }));
    /// ```
    pub fn kind(&self) -> PatternErrorKind {
        self.kind
    }

    /// Byte offset in the pattern where the problem is (for
    /// [`PatternErrorKind::TooLong`], the first byte past the limit).
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// let err = Pattern::new(&"x".repeat(9000)).unwrap_err();
    /// assert_eq!(err.position(), 4096);
    /// ```
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PatternErrorKind::TooLong { len, max } => write!(
                f,
                "invalid glob pattern: it is {len} bytes long, over the {max}-byte limit \
                 (at byte {})",
                self.position
            ),
        }
    }
}

impl Error for PatternError {}

impl Pattern {
    /// The longest pattern accepted, in bytes (see [`PatternError`] for why
    /// there is a limit).
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// assert!(Pattern::new(&"?".repeat(Pattern::MAX_LEN)).is_ok());
    /// assert!(Pattern::new(&"?".repeat(Pattern::MAX_LEN + 1)).is_err());
    /// ```
    pub const MAX_LEN: usize = 4096;

    /// Compiles `pattern`. Fails only when it is longer than
    /// [`Pattern::MAX_LEN`] bytes.
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// let p = Pattern::new("report-[!0-9]*.csv")?;
    /// assert!(p.matches("report-final.csv"));
    /// assert!(!p.matches("report-2024.csv"));
    /// // The empty pattern matches only the empty string.
    /// assert!(Pattern::new("")?.matches(""));
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn new(pattern: &str) -> Result<Pattern, PatternError> {
        if pattern.len() > Self::MAX_LEN {
            return Err(PatternError {
                kind: PatternErrorKind::TooLong {
                    len: pattern.len(),
                    max: Self::MAX_LEN,
                },
                position: Self::MAX_LEN,
            });
        }
        Ok(Pattern {
            source: pattern.into(),
            tokens: compile(pattern).into_boxed_slice(),
        })
    }

    /// The pattern text this was compiled from.
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// assert_eq!(Pattern::new("a*[bc]")?.as_str(), "a*[bc]");
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The literal text every match must start with: the pattern up to its
    /// first wildcard (`*`, `?` or a complete `[...]`). A `[` without a
    /// closing `]` is literal and so belongs to the prefix.
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// assert_eq!(Pattern::new("s3v:model:User:*")?.literal_prefix(), "s3v:model:User:");
    /// assert_eq!(Pattern::new("a[b")?.literal_prefix(), "a[b");
    /// assert_eq!(Pattern::new("?x")?.literal_prefix(), "");
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn literal_prefix(&self) -> &str {
        match self.tokens.first() {
            // Invariant: the first literal run starts at byte 0 and is maximal.
            Some(&Token::Literal { start: 0, end }) => self.source.get(..end).unwrap_or(""),
            _ => "",
        }
    }

    /// Whether the pattern has no wildcard at all, so that it matches exactly
    /// one string: [`as_str`](Self::as_str) itself.
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// assert!(Pattern::new("s3v:model:User:42")?.is_literal());
    /// assert!(Pattern::new("[unclosed")?.is_literal());
    /// assert!(!Pattern::new("s3v:model:User:*")?.is_literal());
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn is_literal(&self) -> bool {
        self.literal_prefix().len() == self.source.len()
    }

    /// Whether `text` matches the whole pattern (case-sensitive, like
    /// `fnmatch.fnmatchcase`).
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    ///
    /// let p = Pattern::new("*a*a*a*a*b")?;
    /// assert!(!p.matches(&"a".repeat(10_000))); // fast: no exponential backtracking
    /// assert!(Pattern::new("caf?")?.matches("café")); // `?` is one character
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn matches(&self, text: &str) -> bool {
        // Greedy star with one resume point. When a `*` is passed, the tokens
        // after it are matched as early as possible; on a mismatch, the text
        // consumed by the most recent `*` grows by one character and matching
        // resumes just after that `*`. Earlier stars never need revisiting:
        // every other token matches a fixed-length piece of text, so the
        // leftmost placement of each star-free segment is always the best one.
        let tokens = &self.tokens[..];
        let (mut pi, mut ti) = (0usize, 0usize);
        // (token index after the last `*`, text offset it resumes from)
        let mut resume: Option<(usize, usize)> = None;
        loop {
            match tokens.get(pi) {
                Some(Token::Star) => {
                    if pi + 1 == tokens.len() {
                        return true; // a trailing `*` swallows the rest
                    }
                    resume = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                Some(token) => {
                    if let Some(len) = self.match_one(token, text, ti) {
                        pi += 1;
                        ti += len;
                        continue;
                    }
                }
                None if ti == text.len() => return true,
                None => {}
            }
            // Mismatch: let the last `*` absorb one more character.
            let Some((rp, rt)) = resume else {
                return false;
            };
            let Some(c) = char_at(text, rt) else {
                return false; // the star already spans the whole remaining text
            };
            let rt = rt + c.len_utf8();
            resume = Some((rp, rt));
            pi = rp;
            ti = rt;
        }
    }

    /// If the non-star `token` matches `text` at byte offset `at` (a char
    /// boundary), the number of bytes it consumes.
    fn match_one(&self, token: &Token, text: &str, at: usize) -> Option<usize> {
        match token {
            Token::Literal { start, end } => {
                let lit = self.source.get(*start..*end)?;
                text.get(at..)?.starts_with(lit).then_some(lit.len())
            }
            Token::AnyChar => char_at(text, at).map(char::len_utf8),
            Token::Class(class) => {
                let c = char_at(text, at)?;
                class.contains(c).then_some(c.len_utf8())
            }
            Token::Star => None,
        }
    }
}

/// The character starting at byte offset `at`, if any (`None` past the end or
/// off a char boundary, never a panic).
fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next()
}

/// Translates pattern text into tokens, mirroring CPython's
/// `fnmatch.translate` one construct at a time.
fn compile(pattern: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while let Some(c) = char_at(pattern, i) {
        let next = i + c.len_utf8();
        match c {
            '*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
                i = next;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i = next;
            }
            '[' => match parse_class(pattern, next) {
                Some((class, after)) => {
                    tokens.push(Token::Class(class));
                    i = after;
                }
                // No closing `]`: the `[` is literal and parsing goes on
                // right after it.
                None => {
                    push_literal(&mut tokens, i, next);
                    i = next;
                }
            },
            _ => {
                push_literal(&mut tokens, i, next);
                i = next;
            }
        }
    }
    tokens
}

/// Appends `source[start..end]` as literal text, extending the previous
/// literal run when it ends exactly at `start`.
fn push_literal(tokens: &mut Vec<Token>, start: usize, end: usize) {
    if let Some(Token::Literal { end: prev_end, .. }) = tokens.last_mut() {
        if *prev_end == start {
            *prev_end = end;
            return;
        }
    }
    tokens.push(Token::Literal { start, end });
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl Hash for Pattern {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&&*self.source).finish()
    }
}

/// Writes the source text, so `Pattern::new(&p.to_string()) == Ok(p)`.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Same as [`Pattern::new`].
impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_merge_literals_and_stars() {
        let p = Pattern::new("ab[c**d").unwrap();
        assert_eq!(p.tokens.len(), 3, "{:?}", p.tokens);
        assert_eq!(p.literal_prefix(), "ab[c");
    }
}
