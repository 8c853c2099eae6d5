//! Decision support: the options a decision lists are read here (labelled options, list
//! items, or `A vs B` / `A or B` / `A还是B` in a sentence); the model compares, weighs risks
//! or recommends, and its recommendation is matched back to a listed option.

use serde::Serialize;

use super::list_item;

/// One option of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionOption {
    /// `A`, `1`, `一` when the text labels it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub text: String,
}

/// What we read from the decision text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionFacts {
    pub options: Vec<DecisionOption>,
    /// Where the options came from: `labelled` (`Option A: …`), `list`, `inline` or `none`.
    pub found_as: &'static str,
}

const MAX_OPTIONS: usize = 20;

/// Reads the options.
pub fn facts(text: &str) -> DecisionFacts {
    let labelled: Vec<DecisionOption> = text
        .lines()
        .filter_map(|l| labelled_option(l.trim()))
        .collect();
    if labelled.len() >= 2 {
        return DecisionFacts {
            options: labelled.into_iter().take(MAX_OPTIONS).collect(),
            found_as: "labelled",
        };
    }
    // The first run of two or more list items (blank lines inside a run are allowed).
    let mut run: Vec<DecisionOption> = Vec::new();
    for line in text.lines().map(str::trim) {
        match list_item(line) {
            Some((label, item)) if !item.is_empty() => run.push(DecisionOption {
                label: (!label.is_empty()).then_some(label),
                text: item.to_owned(),
            }),
            _ if line.is_empty() => {}
            _ if run.len() >= 2 => break,
            _ => run.clear(),
        }
    }
    if run.len() >= 2 {
        return DecisionFacts {
            options: run.into_iter().take(MAX_OPTIONS).collect(),
            found_as: "list",
        };
    }
    let inline = inline_options(text);
    DecisionFacts {
        found_as: if inline.is_empty() { "none" } else { "inline" },
        options: inline,
    }
}

/// `Option A: …`, `Option 2 - …`, `Choice B: …`, `选项A：…`, `方案一：…`, `方案 2: …`.
fn labelled_option(line: &str) -> Option<DecisionOption> {
    let line = line.trim_start_matches(['-', '*', '#', ' ']);
    let lower = line.to_lowercase();
    let prefix_len = ["option ", "choice ", "alternative ", "选项", "方案", "选择"]
        .iter()
        .find(|p| lower.starts_with(**p) && line.is_char_boundary(p.len()))
        .map(|p| p.len())?;
    let rest = line[prefix_len..].trim_start();
    let label: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "一二三四五六七八九十".contains(*c))
        .collect();
    if label.is_empty() || label.chars().count() > 3 {
        return None;
    }
    let after = rest[label.len()..].trim_start();
    let text = after
        .strip_prefix([':', '：', '-', '—', ')', '.', '、'])
        .map(str::trim)
        .filter(|t| !t.is_empty())?;
    Some(DecisionOption {
        label: Some(label.to_uppercase()),
        text: text.to_owned(),
    })
}

/// `A vs B (vs C)`, `between A and B`, `A or B?`, `A还是B`: options named in one sentence.
fn inline_options(text: &str) -> Vec<DecisionOption> {
    let clean = |s: &str| {
        s.trim()
            .trim_matches(|c: char| {
                c.is_ascii_punctuation() || "，。？！：；“”".contains(c) || c.is_whitespace()
            })
            .to_owned()
    };
    let opts = |v: Vec<String>| -> Vec<DecisionOption> {
        let v: Vec<String> = v.into_iter().filter(|s| !s.is_empty()).collect();
        if v.len() < 2 {
            return Vec::new();
        }
        v.into_iter()
            .take(MAX_OPTIONS)
            .map(|text| DecisionOption { label: None, text })
            .collect()
    };
    for sentence in text.split(['\n', '?', '？', '。', '!', '！']) {
        let lower = sentence.to_lowercase();
        if lower.len() != sentence.len() {
            continue;
        }
        // `X vs Y vs Z`, `X versus Y`: each side up to a comma or colon.
        for sep in [" vs. ", " vs ", " versus "] {
            if lower.contains(sep) {
                let mut parts: Vec<String> = Vec::new();
                let mut rest = sentence;
                while let Some(at) = rest.to_lowercase().find(sep) {
                    parts.push(rest[..at].to_owned());
                    rest = &rest[at + sep.len()..];
                }
                parts.push(rest.to_owned());
                let n = parts.len();
                parts[n - 1] = cut_right(&parts[n - 1]).to_owned();
                let words = clean(&parts[1]).split_whitespace().count().clamp(1, 4);
                let head = parts[0]
                    .rsplit([',', ':', '：', '，'])
                    .next()
                    .unwrap_or("")
                    .to_owned();
                parts[0] = last_words(&head, words);
                return opts(parts.iter().map(|p| clean(p)).collect());
            }
        }
        if let Some(at) = lower.find("between ")
            && let Some(and) = lower[at..].find(" and ")
        {
            let a = &sentence[at + "between ".len()..at + and];
            let b = sentence[at + and + " and ".len()..]
                .split([',', '(', ';'])
                .next()
                .unwrap_or("");
            return opts(vec![clean(a), clean(b)]);
        }
        // `… A or B`: B runs to the end of the sentence (cut at a preposition), A has as
        // many words as B.
        if let Some(at) = lower.rfind(" or ") {
            let right = clean(cut_right(&sentence[at + 4..]));
            let words = right.split_whitespace().count().clamp(1, 4);
            let left = last_words(&sentence[..at], words);
            return opts(vec![clean(&left), right]);
        }
        // `A还是B`: B to the end of the clause, A as long as B.
        if let Some(at) = sentence.find("还是") {
            let right: String = sentence[at + "还是".len()..]
                .chars()
                .take_while(|c| !"，,。？?！!；;".contains(*c))
                .collect();
            let n = right.chars().count();
            let left: Vec<char> = sentence[..at].chars().collect();
            let left: String = left[left.len().saturating_sub(n)..].iter().collect();
            return opts(vec![clean(&left), clean(&right)]);
        }
    }
    Vec::new()
}

/// `s` up to the first preposition or comma that starts a trailing clause
/// (`MongoDB for the new service` → `MongoDB`).
fn cut_right(s: &str) -> &str {
    let lower = s.to_lowercase();
    if lower.len() != s.len() {
        return s;
    }
    [
        " for ", " in ", " to ", " as ", " at ", " on ", " with ", ",", "(",
    ]
    .iter()
    .filter_map(|p| lower.find(p))
    .min()
    .map_or(s, |cut| &s[..cut])
}

/// The last `n` words of `s`.
fn last_words(s: &str, n: usize) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    words[words.len().saturating_sub(n)..].join(" ")
}

/// The prompt for `kind`, with the options found and the decision text.
pub fn prompt(kind: &str, f: &DecisionFacts, text: &str) -> String {
    let task = match kind {
        "comparison" => {
            "Compare the options of the decision below side by side: their strengths, weaknesses and costs, and when each is the right choice."
        }
        "risk" => {
            "Assess the risks of each option of the decision below: the main risks, their likelihood and impact (low, medium or high), and how to mitigate them."
        }
        _ => {
            "Recommend one option for the decision below. First line: `Recommendation: ` followed by the option. Then the reasons, the main risk, and what would change the recommendation."
        }
    };
    let options = if f.options.is_empty() {
        "No explicit options were found in the text; identify them first.".to_owned()
    } else {
        let list: Vec<String> = f
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| match &o.label {
                Some(l) if *l != (i + 1).to_string() => format!("{}. ({l}) {}", i + 1, o.text),
                _ => format!("{}. {}", i + 1, o.text),
            })
            .collect();
        format!("Options found in the text:\n{}", list.join("\n"))
    };
    format!(
        "{task}\n\n{options}\n\nDecision:\n<<<\n{}\n>>>",
        text.trim()
    )
}

/// The `Recommendation:` line (or `推荐：`/`建议：`), matched to an option by label or text.
pub fn recommendation(analysis: &str, options: &[DecisionOption]) -> Option<super::Recommendation> {
    let line = analysis.lines().find_map(|l| {
        let l = l.trim().trim_start_matches(['*', '#', ' ']);
        let lower = l.to_lowercase();
        ["recommendation", "recommended option", "推荐", "建议"]
            .iter()
            .find(|p| lower.starts_with(**p) && l.is_char_boundary(p.len()))
            .map(|p| {
                l[p.len()..]
                    .trim_start_matches(['*', ':', '：', ' '])
                    .trim()
                    .to_owned()
            })
    })?;
    if line.is_empty() {
        return None;
    }
    let lower = line.to_lowercase();
    let option = options
        .iter()
        .position(|o| {
            let text = o.text.to_lowercase();
            !text.is_empty()
                && (lower.contains(&text) || text.contains(lower.trim_end_matches('.')))
        })
        .or_else(|| {
            // `Option B`, `B`, `(2)`, `方案二`.
            let token = lower
                .trim_start_matches("option")
                .trim_start_matches("方案")
                .trim_start_matches("选项")
                .trim()
                .trim_matches(|c: char| "()（）.:：".contains(c));
            let token: String = token.chars().take_while(|c| c.is_alphanumeric()).collect();
            options.iter().enumerate().position(|(i, o)| {
                o.label
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(&token))
                    || (o.label.is_none() && token == (i + 1).to_string())
            })
        });
    Some(super::Recommendation { text: line, option })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(f: &DecisionFacts) -> Vec<&str> {
        f.options.iter().map(|o| o.text.as_str()).collect()
    }

    #[test]
    fn options_from_labels_lists_and_sentences() {
        let f = facts(
            "We must choose.\nOption A: Rent an office\nOption B: Buy a building\nOption C - Stay remote\n",
        );
        assert_eq!(f.found_as, "labelled");
        assert_eq!(
            texts(&f),
            vec!["Rent an office", "Buy a building", "Stay remote"]
        );
        assert_eq!(f.options[1].label.as_deref(), Some("B"));

        let f = facts(
            "Where should the team work?\n\n1. Rent an office\n2. Buy a building\n3. Stay remote\n\nBudget is tight.",
        );
        assert_eq!((f.found_as, f.options.len()), ("list", 3));

        let f = facts("方案一：自建机房\n方案二：使用云服务\n");
        assert_eq!(texts(&f), vec!["自建机房", "使用云服务"]);
        assert_eq!(f.options[0].label.as_deref(), Some("一"));

        assert_eq!(
            texts(&facts("PostgreSQL vs MongoDB vs SQLite for our app?")),
            vec!["PostgreSQL", "MongoDB", "SQLite"]
        );
        assert_eq!(
            texts(&facts(
                "Should we use PostgreSQL or MongoDB for the new service?"
            )),
            vec!["PostgreSQL", "MongoDB"]
        );
        assert_eq!(
            texts(&facts("Should we rent an office or buy a building?")),
            vec!["rent an office", "buy a building"]
        );
        assert_eq!(
            texts(&facts(
                "We are deciding between Lisbon and Porto, for the summer."
            )),
            vec!["Lisbon", "Porto"]
        );
        assert_eq!(
            texts(&facts("我们应该去北京还是上海？")),
            vec!["北京", "上海"]
        );
        assert_eq!(facts("Just do it.").found_as, "none");
    }

    #[test]
    fn recommendations_match_options() {
        let opts = facts("Option A: Rent an office\nOption B: Stay remote\n").options;
        let r = recommendation("Recommendation: Stay remote.\nIt is cheaper.", &opts).unwrap();
        assert_eq!((r.text.as_str(), r.option), ("Stay remote.", Some(1)));
        assert_eq!(
            recommendation("**Recommendation:** Option A", &opts)
                .unwrap()
                .option,
            Some(0)
        );
        assert_eq!(recommendation("推荐：B", &opts).unwrap().option, Some(1));
        let r = recommendation("Recommendation: something else", &opts).unwrap();
        assert_eq!(r.option, None);
        assert!(recommendation("No idea.", &opts).is_none());
    }
}
