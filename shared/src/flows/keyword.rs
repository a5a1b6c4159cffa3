//! Keywords: how a customer's free text is matched, by flow triggers and by branch rules alike.
//!
//! Matching is case-insensitive and by whole words: the keyword `book` matches "Book", "I want
//! to book!" and "book a table", but not "booking" or "facebook". A keyword of several words
//! (`opening hours`) matches those words in that order, next to each other. Words are runs of
//! letters and digits in any script; everything else separates them. A keyword with no letters
//! or digits at all (an emoji, `?`) matches a message that is exactly that keyword.

use std::fmt;

/// Longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 100;

/// A keyword: at most 100 characters, not blank, kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    text: String,
    lower: String,
    words: Vec<String>,
}

impl Keyword {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() || raw.chars().count() > MAX_KEYWORD_CHARS {
            return Err(format!("must be 1-{MAX_KEYWORD_CHARS} characters"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self {
            text: text.to_owned(),
            lower: text.to_lowercase(),
            words: words(text),
        })
    }

    /// The keyword as the tenant wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the customer's `message` contains this keyword (see the module docs).
    pub fn matches(&self, message: &str) -> bool {
        if self.words.is_empty() {
            return message.trim().to_lowercase() == self.lower;
        }
        let said = words(message);
        said.windows(self.words.len())
            .any(|window| window == self.words.as_slice())
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The lowercased words of `text`: maximal runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(s: &str) -> Keyword {
        Keyword::parse(s).unwrap()
    }

    #[test]
    fn whole_words_case_insensitively() {
        let book = kw(" Book ");
        assert_eq!(book.as_str(), "Book");
        for yes in ["book", "BOOK", "I want to book!", "book a table", "¿book?"] {
            assert!(book.matches(yes), "{yes}");
        }
        for no in ["booking", "facebook", "", "b o o k"] {
            assert!(!book.matches(no), "{no}");
        }
    }

    #[test]
    fn phrases_match_adjacent_words_in_order() {
        let hours = kw("opening hours");
        assert!(hours.matches("What are your Opening-Hours?"));
        assert!(!hours.matches("hours opening"));
        assert!(!hours.matches("opening late, hours?"));
    }

    #[test]
    fn unicode_words_and_symbols() {
        assert!(kw("Größe").matches("welche GRÖSSE? größe!"));
        assert!(kw("預約").matches("我想 預約"));
        let thumbs = kw("👍");
        assert!(thumbs.matches(" 👍 "));
        assert!(!thumbs.matches("ok 👍"));
    }

    #[test]
    fn refuses_blank_long_and_control_text() {
        assert!(Keyword::parse("   ").is_err());
        assert!(Keyword::parse(&"x".repeat(101)).is_err());
        assert!(Keyword::parse(&"é".repeat(100)).is_ok());
        assert!(Keyword::parse("a\u{0}b").is_err());
        assert!(Keyword::parse("a\nb").is_err());
    }
}
