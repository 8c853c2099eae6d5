//! Document analysis: length facts counted here (CJK characters count as words), the rest
//! asked of a model.

use serde::Serialize;

use super::round6;

/// What we count in a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentFacts {
    /// Unicode scalar values, whitespace included.
    pub characters: usize,
    /// Latin-script (and other space-separated) words plus CJK characters, each of which
    /// counts as a word.
    pub words: usize,
    pub cjk_characters: usize,
    pub sentences: usize,
    /// Blocks separated by blank lines.
    pub paragraphs: usize,
    pub lines: usize,
    /// The router's token estimate.
    pub estimated_tokens: u32,
    /// At 230 words or 400 CJK characters a minute.
    pub reading_minutes: f64,
    /// `cjk`, `latin` or `mixed`, by which kind of word dominates.
    pub script: &'static str,
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // CJK Extensions B–F and supplements
}

/// Counts words, sentences, paragraphs and the rest.
pub fn facts(text: &str) -> DocumentFacts {
    let cjk = text.chars().filter(|&c| is_cjk(c)).count();
    // A word is a run of letters or digits that is not CJK; apostrophes and hyphens inside a
    // word, and decimal points or separators inside a number, keep it whole.
    let mut latin = 0;
    let mut in_word = false;
    let mut prev = ' ';
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let joiner =
            (matches!(c, '\'' | '’' | '-') && prev.is_alphanumeric() && next.is_alphanumeric())
                || (matches!(c, '.' | ',') && prev.is_ascii_digit() && next.is_ascii_digit());
        let part = (c.is_alphanumeric() && !is_cjk(c)) || (in_word && joiner);
        if part && !in_word {
            latin += 1;
        }
        in_word = part;
        prev = c;
    }
    let sentences = sentence_count(&chars);
    let paragraphs = text
        .split("\n\n")
        .flat_map(|b| b.split("\r\n\r\n"))
        .filter(|b| b.chars().any(char::is_alphanumeric))
        .count();
    let words = latin + cjk;
    DocumentFacts {
        characters: chars.len(),
        words,
        cjk_characters: cjk,
        sentences,
        paragraphs,
        lines: text.lines().filter(|l| !l.trim().is_empty()).count(),
        estimated_tokens: crate::router::analysis::estimate_tokens(text),
        reading_minutes: round6(((latin as f64 / 230.0 + cjk as f64 / 400.0) * 10.0).ceil() / 10.0),
        script: if words == 0 || cjk * 4 < latin {
            "latin"
        } else if latin * 4 < cjk {
            "cjk"
        } else {
            "mixed"
        },
    }
}

/// Sentences end at `。！？`, or at `.!?` followed by whitespace or the end; a piece counts
/// when it holds a letter or digit. Abbreviations make this an estimate, and it says so.
fn sentence_count(chars: &[char]) -> usize {
    let mut count = 0;
    let mut has_content = false;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            has_content = true;
        }
        let end = match c {
            '。' | '！' | '？' | '!' | '?' => true,
            '.' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
            _ => false,
        };
        if end && has_content {
            count += 1;
            has_content = false;
        }
    }
    count + usize::from(has_content)
}

/// The prompt for `kind`, with the computed facts and the document.
pub fn prompt(kind: &str, f: &DocumentFacts, text: &str) -> String {
    let task = match kind {
        "summary" => {
            "Summarise the document below in one short paragraph (at most five sentences) that someone who has not read it can rely on."
        }
        "key-points" => {
            "List the key points of the document below, most important first, one per line, each line starting with `- `. Nothing else."
        }
        "sentiment" => {
            "Classify the overall sentiment of the document below. First line: `Sentiment: positive`, `negative`, `neutral` or `mixed`. Second line: `Confidence: ` and a number from 0 to 1. Then two or three sentences citing the phrases that show it."
        }
        _ => {
            "Analyse the document below: its main topic and purpose, its structure, its key points (as lines starting with `- `), its tone, and any gaps, errors or open questions."
        }
    };
    format!(
        "{task}\n\nComputed facts (exact): {} words ({} of them CJK characters), {} sentences, {} paragraphs, about {} minutes to read.\n\nDocument:\n<<<\n{}\n>>>",
        f.words,
        f.cjk_characters,
        f.sentences,
        f.paragraphs,
        f.reading_minutes,
        text.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_latin_words_and_cjk_characters() {
        let f = facts("Hello, world! It's a well-known test.\n\n你好世界。这是测试！");
        assert_eq!(f.cjk_characters, 8);
        // Hello, world, It's, a, well-known, test + 8 CJK characters.
        assert_eq!(f.words, 6 + 8);
        assert_eq!(f.sentences, 4);
        assert_eq!(f.paragraphs, 2);
        assert_eq!(f.lines, 2);
        assert_eq!(f.script, "mixed");
        let f = facts("中文文档没有空格");
        assert_eq!((f.words, f.script, f.sentences), (8, "cjk", 1));
        let f = facts("Version 2.5 is out. Really");
        assert_eq!((f.words, f.sentences), (5, 2));
    }
}
