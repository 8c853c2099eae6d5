//! Final answers: extraction from free text, normalisation, tallies, verifier verdicts and
//! judges' choices.
//!
//! Voting only works when "42", "The answer is 42.0" and "答案是 四十二" count as one vote, so
//! every answer is reduced to a [`Vote`]: a kind (number, option letter, yes/no, short phrase,
//! or long text) and a canonical value. Extraction prefers an explicit marker (`\boxed{…}`,
//! `Answer:`, `The answer is`, `答案是`, `最终答案`, …, the last one wins); without one it reads
//! the last line. All of it is deterministic string work, no model call.

use serde::Serialize;

/// What kind of answer a vote is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// A number, canonicalised (`42.0` and `42` are the same; `1,024` is `1024`).
    Number,
    /// A multiple-choice letter, upper case (`(b)` is `B`).
    Choice,
    /// `yes` or `no` (also from `true`/`false`, `是`/`否`, `对`/`不对`).
    YesNo,
    /// A short phrase, lower-cased, without articles and trailing punctuation.
    Phrase,
    /// A longer answer: only the same text (ignoring case and spacing) matches it.
    Text,
}

/// One model's final answer, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Vote {
    pub kind: AnswerKind,
    /// The canonical value votes are compared by.
    pub answer: String,
}

/// Markers that introduce a final answer, lower case. The last occurrence in a text wins.
const MARKERS: &[&str] = &[
    "final answer is",
    "final answer:",
    "the answer is",
    "answer is",
    "answer:",
    "answer -",
    "最终答案是",
    "最终答案为",
    "最终答案",
    "答案是",
    "答案为",
    "答案:",
    "答案",
    "结果是",
    "结果为",
    "答:",
];

/// Phrases longer than this many words (or CJK characters / 2) count as [`AnswerKind::Text`].
const PHRASE_WORDS: usize = 8;

/// Extracts and normalises the final answer of `text`; `None` for an empty answer.
pub fn extract(text: &str) -> Option<Vote> {
    let text = fold(text);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(boxed) = last_boxed(text) {
        return classify(&boxed, true);
    }
    if let Some(candidate) = after_marker(text)
        && let Some(vote) = classify(&candidate, true)
    {
        return Some(vote);
    }
    let last_line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let single_line = text.lines().filter(|l| !l.trim().is_empty()).count() == 1;
    let vote = classify(last_line, false)?;
    // A long single answer without a marker is compared as a whole text.
    if vote.kind == AnswerKind::Text && !single_line {
        return Some(Vote {
            kind: AnswerKind::Text,
            answer: squash(text),
        });
    }
    Some(vote)
}

/// Full-width digits, letters and punctuation to ASCII; Markdown emphasis and code marks
/// removed (`**42**` is `42`).
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        if c == '*' || c == '`' {
            continue;
        }
        out.push(c);
    }
    out
}

/// The contents of the last `\boxed{…}` (LaTeX answers), braces balanced.
fn last_boxed(text: &str) -> Option<String> {
    let start = text.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[start..start + i].to_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// The text after the last answer marker, up to the end of its line (or the next line when
/// the marker ends one).
fn after_marker(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    // Lower-casing can change byte offsets for a few scripts; only use it when it does not.
    if lower.len() != text.len() {
        return None;
    }
    let mut best: Option<(usize, usize)> = None;
    for marker in MARKERS {
        if let Some(at) = lower.rfind(marker) {
            let end = at + marker.len();
            // Longer markers that end at the same place win (`final answer:` over `answer:`).
            if best.is_none_or(|(_, e)| end > e) {
                best = Some((at, end));
            }
        }
    }
    let (_, end) = best?;
    let rest = &text[end..];
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '='));
    let line = rest.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return None;
    }
    Some(line.to_owned())
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn trim_punct(s: &str) -> &str {
    s.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '.' | '。'
                    | '!'
                    | '！'
                    | '?'
                    | '？'
                    | ','
                    | '，'
                    | ';'
                    | '；'
                    | ':'
                    | '：'
                    | '"'
                    | '\''
                    | '“'
                    | '”'
                    | '‘'
                    | '’'
                    | '「'
                    | '」'
                    | '$'
            )
    })
}

/// Lower case, single spaces.
fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Reads one candidate answer. `marked`: it followed an explicit answer marker, so its first
/// number is the answer; otherwise the last number of a short line is.
fn classify(candidate: &str, marked: bool) -> Option<Vote> {
    let c = trim_punct(candidate);
    if c.is_empty() {
        return None;
    }
    if let Some(letter) = choice(c) {
        return Some(Vote {
            kind: AnswerKind::Choice,
            answer: letter.to_string(),
        });
    }
    if let Some(yes) = yes_no(c) {
        return Some(Vote {
            kind: AnswerKind::YesNo,
            answer: if yes { "yes" } else { "no" }.into(),
        });
    }
    let words = c.split_whitespace().count() + c.chars().filter(|&ch| is_cjk(ch)).count() / 2;
    if marked || words <= PHRASE_WORDS {
        let numbers = numbers(c);
        let pick = if marked {
            numbers.first()
        } else {
            numbers.last()
        };
        if let Some(n) = pick {
            return Some(Vote {
                kind: AnswerKind::Number,
                answer: n.clone(),
            });
        }
    }
    if words <= PHRASE_WORDS {
        let lower = squash(c);
        let stripped = ["the ", "a ", "an "]
            .iter()
            .find_map(|a| lower.strip_prefix(a))
            .unwrap_or(&lower);
        return Some(Vote {
            kind: AnswerKind::Phrase,
            answer: trim_punct(stripped).to_owned(),
        });
    }
    Some(Vote {
        kind: AnswerKind::Text,
        answer: squash(c),
    })
}

/// `B`, `(B)`, `b)`, `B.`, `B) Paris`, `Option B`, `选项B`, `选 B`, `B项`.
fn choice(c: &str) -> Option<char> {
    let (s, prefixed) = ["option ", "choice ", "选项", "选择", "选"]
        .iter()
        .find_map(|p| {
            (c.len() >= p.len()
                && c.is_char_boundary(p.len())
                && c[..p.len()].eq_ignore_ascii_case(p))
            .then(|| (c[p.len()..].trim_start(), true))
        })
        .unwrap_or((c, false));
    let mut chars = s.chars();
    let first = chars.next()?;
    let bracketed = matches!(first, '(' | '[');
    let letter = if bracketed { chars.next()? } else { first };
    if bracketed && !matches!(chars.next()?, ')' | ']') {
        return None;
    }
    if !letter.is_ascii_alphabetic() || !('A'..='H').contains(&letter.to_ascii_uppercase()) {
        return None;
    }
    let after = chars.as_str();
    let ok = if after.is_empty() || after.starts_with('项') {
        true
    } else if bracketed || prefixed {
        after.starts_with(|ch: char| ch.is_whitespace() || ".:、,".contains(ch))
    } else {
        // `B. Paris`, `B) Paris`; upper case only, so `a) …` in prose is not read as a choice
        // unless bracketed.
        letter.is_ascii_uppercase()
            && after.starts_with(|ch: char| ".):、".contains(ch))
            && after[1..].chars().next().is_none_or(char::is_whitespace)
    };
    ok.then(|| letter.to_ascii_uppercase())
}

/// `yes`/`no` from the first word: English, Chinese, true/false.
fn yes_no(c: &str) -> Option<bool> {
    const NO_ZH: &[&str] = &[
        "不是",
        "不对",
        "不正确",
        "不可以",
        "不能",
        "不会",
        "否",
        "错误",
        "不",
    ];
    const YES_ZH: &[&str] = &["是的", "是", "对的", "对", "正确", "可以", "能", "会"];
    // A Chinese yes/no word must stand alone (`对称` is not `对`).
    let alone = |p: &str| {
        c.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with("的")
                || rest.starts_with(|ch: char| {
                    ch.is_whitespace() || ch.is_ascii_punctuation() || "。、".contains(ch)
                })
        })
    };
    if NO_ZH.iter().any(|p| alone(p)) {
        return Some(false);
    }
    if YES_ZH.iter().any(|p| alone(p)) {
        return Some(true);
    }
    let first = c
        .split(|ch: char| !ch.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_lowercase();
    match first.as_str() {
        "yes" | "yeah" | "yep" | "true" | "correct" => Some(true),
        "no" | "nope" | "false" | "incorrect" => Some(false),
        _ => None,
    }
}

/// Every number in `s`, canonicalised, in order: `1,024` → `1024`, `42.0` → `42`, `-3.50` →
/// `-3.5`, `1/4` → `0.25`; a run of Chinese numerals (`四十二`) when there are no digits.
pub fn numbers(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let negative = start > 0
            && (chars[start - 1] == '-' || chars[start - 1] == '−')
            && (start < 2 || !chars[start - 2].is_alphanumeric());
        let mut digits = String::new();
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            digits.push(chars[j]);
            j += 1;
        }
        // Thousands separators: `,` followed by exactly three digits, repeatedly, only after
        // a leading group of one to three digits.
        if digits.len() <= 3 {
            while j + 3 < chars.len()
                && chars[j] == ','
                && chars[j + 1..j + 4].iter().all(char::is_ascii_digit)
                && chars.get(j + 4).is_none_or(|c| !c.is_ascii_digit())
            {
                digits.extend(&chars[j + 1..j + 4]);
                j += 4;
            }
        }
        let mut value = digits.clone();
        if j + 1 < chars.len() && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
            value.push('.');
            j += 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                value.push(chars[j]);
                j += 1;
            }
        }
        let mut number: Option<f64> = value.parse().ok();
        // A simple fraction `a/b`.
        if j + 1 < chars.len()
            && chars[j] == '/'
            && chars[j + 1].is_ascii_digit()
            && !value.contains('.')
        {
            let mut k = j + 1;
            let mut den = String::new();
            while k < chars.len() && chars[k].is_ascii_digit() {
                den.push(chars[k]);
                k += 1;
            }
            if let (Some(n), Ok(d)) = (number, den.parse::<f64>())
                && d != 0.0
            {
                number = Some(n / d);
                j = k;
            }
        }
        let percent = chars.get(j) == Some(&'%');
        if let Some(mut n) = number {
            if negative {
                n = -n;
            }
            let mut text = canonical(n);
            if percent {
                text.push('%');
            }
            out.push(text);
        }
        i = j.max(start + 1);
    }
    if out.is_empty()
        && let Some(n) = chinese_number(s)
    {
        out.push(canonical(n as f64));
    }
    out
}

/// A number as votes compare it: integers without a decimal point, others with at most ten
/// significant digits and no trailing zeros.
fn canonical(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let s = format!("{:.10}", n);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The first run of Chinese numerals (`四十二`, `一百零五`, `两千`, `三万五千`) as a number.
fn chinese_number(s: &str) -> Option<u64> {
    let digit = |c: char| {
        Some(match c {
            '零' | '〇' => 0,
            '一' => 1,
            '二' | '两' => 2,
            '三' => 3,
            '四' => 4,
            '五' => 5,
            '六' => 6,
            '七' => 7,
            '八' => 8,
            '九' => 9,
            _ => return None,
        })
    };
    let unit = |c: char| {
        Some(match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '万' => 10_000,
            '亿' => 100_000_000,
            _ => return None,
        })
    };
    // The longest run of numerals (the last of equals): `一共有一百零五个` is 105, not 1.
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut current_run: Vec<char> = Vec::new();
    for c in s.chars() {
        if digit(c).is_some() || unit(c).is_some() {
            current_run.push(c);
        } else if !current_run.is_empty() {
            runs.push(std::mem::take(&mut current_run));
        }
    }
    if !current_run.is_empty() {
        runs.push(current_run);
    }
    let run = runs
        .into_iter()
        .filter(|r| r.iter().any(|&c| digit(c).is_some() || c == '十'))
        // `max_by_key` keeps the last of equal maxima.
        .max_by_key(Vec::len)?;
    let (mut total, mut section, mut current) = (0u64, 0u64, 0u64);
    for c in run {
        if let Some(d) = digit(c) {
            current = d;
        } else if let Some(u) = unit(c) {
            if u >= 10_000 {
                section = (section + current) * u;
                total += section;
                section = 0;
            } else {
                let n = if current == 0 { 1 } else { current };
                section += n * u;
            }
            current = 0;
        }
    }
    Some(total + section + current)
}

/// How a tally's winner was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The most votes.
    Majority,
    /// A tie, broken by the highest quality tier among each answer's voters.
    Tier,
    /// A tie that tiers could not break: the answer given first in plan order.
    Order,
    /// A tie a judge model broke.
    Judge,
}

/// One distinct answer in a tally.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TallyOption {
    pub answer: String,
    pub kind: AnswerKind,
    pub votes: u32,
    /// The steps that voted for it.
    pub voters: Vec<String>,
    /// The models that voted for it (a model may appear twice for self-consistency).
    pub models: Vec<String>,
    /// The full text of the first answer with this vote.
    #[serde(skip)]
    pub sample: String,
}

/// Votes counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    /// Most votes first; equal counts in plan order.
    pub options: Vec<TallyOption>,
    /// The winning answer (after tie-breaking).
    pub winner: Option<String>,
    /// Whether the top answers had equal votes.
    pub tie: bool,
    /// Whether every vote was for one answer.
    pub unanimous: bool,
    pub decided_by: DecidedBy,
    /// Steps that answered but gave nothing to count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub abstained: Vec<String>,
}

/// One ballot: the step, its model and tier, and its full answer.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    pub step: &'a str,
    pub model: &'a str,
    pub tier: u8,
    pub text: &'a str,
}

impl Tally {
    /// Counts the ballots. A tie is broken by the highest tier among each tied answer's
    /// voters, then by plan order; `tie` stays true so a judge can still overrule.
    pub fn count(ballots: &[Ballot<'_>]) -> Tally {
        let mut options: Vec<(TallyOption, u8)> = Vec::new();
        let mut abstained = Vec::new();
        for b in ballots {
            let Some(vote) = extract(b.text) else {
                abstained.push(b.step.to_owned());
                continue;
            };
            match options
                .iter_mut()
                .find(|(o, _)| o.kind == vote.kind && o.answer == vote.answer)
            {
                Some((o, tier)) => {
                    o.votes += 1;
                    o.voters.push(b.step.to_owned());
                    o.models.push(b.model.to_owned());
                    *tier = (*tier).max(b.tier);
                }
                None => options.push((
                    TallyOption {
                        answer: vote.answer,
                        kind: vote.kind,
                        votes: 1,
                        voters: vec![b.step.to_owned()],
                        models: vec![b.model.to_owned()],
                        sample: b.text.to_owned(),
                    },
                    b.tier,
                )),
            }
        }
        // Stable: equal counts keep plan order.
        options.sort_by_key(|o| std::cmp::Reverse(o.0.votes));
        let top = options.first().map_or(0, |o| o.0.votes);
        let tied: Vec<usize> = (0..options.len())
            .filter(|&i| options[i].0.votes == top)
            .collect();
        let tie = tied.len() > 1;
        let mut decided_by = DecidedBy::Majority;
        if tie {
            let best_tier = tied.iter().map(|&i| options[i].1).max().unwrap_or(0);
            let by_tier: Vec<usize> = tied
                .iter()
                .copied()
                .filter(|&i| options[i].1 == best_tier)
                .collect();
            decided_by = if by_tier.len() == 1 {
                DecidedBy::Tier
            } else {
                DecidedBy::Order
            };
            // Move the tie-break winner to the front; the rest keep their order.
            let w = by_tier[0];
            let winner = options.remove(w);
            options.insert(0, winner);
        }
        let unanimous = options.len() == 1;
        Tally {
            winner: options.first().map(|o| o.0.answer.clone()),
            options: options.into_iter().map(|(o, _)| o).collect(),
            tie,
            unanimous,
            decided_by,
            abstained,
        }
    }

    /// The options, numbered, with their votes and first full answer: what a judge or a
    /// re-voting model reads.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, o) in self.options.iter().enumerate() {
            let votes = if o.votes == 1 { "vote" } else { "votes" };
            out.push_str(&format!(
                "Answer {}: {} ({} {votes})\n{}\n\n",
                i + 1,
                o.answer,
                o.votes,
                clip(&o.sample, 2000)
            ));
        }
        out.trim_end().to_owned()
    }

    /// `42 (2) · 41 (1)`.
    pub fn summary(&self) -> String {
        self.options
            .iter()
            .map(|o| format!("{} ({})", o.answer, o.votes))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// A verifier's reply: `Some(true)` accepts, `Some(false)` rejects, `None` is unclear.
pub fn verdict(text: &str) -> Option<bool> {
    read_verdict(text).map(|v| v.accept)
}

/// What a verifier decided and the word in its reply that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub accept: bool,
    /// As found (upper-cased): `ACCEPT`, `INCORRECT`, `NOT CORRECT`, `YES`, `是`, ….
    pub word: String,
}

/// Explicit verdicts, which count anywhere in a reply. Rejections are listed first: at one
/// position the longer word wins (`不通过` before `通过`).
const VERDICT_WORDS: &[(&str, bool)] = &[
    ("REJECTED", false),
    ("REJECT", false),
    ("不通过", false),
    ("拒绝", false),
    ("ACCEPTED", true),
    ("ACCEPT", true),
    ("通过", true),
    ("接受", true),
];

/// Judgements of correctness, which count on the first line or at the start of a line.
const JUDGEMENT_WORDS: &[(&str, bool)] = &[
    ("NOT CORRECT", false),
    ("ISN'T CORRECT", false),
    ("INCORRECT", false),
    ("WRONG", false),
    ("不正确", false),
    ("错误", false),
    ("CORRECT", true),
    ("正确", true),
];

/// A verifier's reply read as a verdict, wherever it is: the prompt asks for ACCEPT or REJECT
/// on the first line, but models also reason first and conclude later, or answer yes/no,
/// correct/incorrect or 是/否. In order: a verdict or judgement word on the first line; a
/// line that opens with one (or with yes/no, 是/否); an ACCEPT or REJECT anywhere (the first
/// one). `None` when nothing decides.
pub fn read_verdict(text: &str) -> Option<Verdict> {
    let text = fold(text).to_uppercase();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let all = || VERDICT_WORDS.iter().chain(JUDGEMENT_WORDS);
    if let Some(first) = lines.first()
        && let Some(v) = earliest(first, all())
    {
        return Some(v);
    }
    for line in &lines {
        let opening = trim_punct(strip_label(trim_punct(line)));
        if let Some(v) = earliest(opening, all()).filter(|_| starts_with_word(opening)) {
            return Some(v);
        }
        if let Some(accept) = yes_no(opening) {
            let word = opening
                .split(|c: char| {
                    c.is_whitespace() || c.is_ascii_punctuation() || "，。、".contains(c)
                })
                .next()
                .unwrap_or(opening);
            return Some(Verdict {
                accept,
                word: word.to_owned(),
            });
        }
    }
    earliest(&text, VERDICT_WORDS.iter())
}

/// `VERDICT: …`, `Answer: …`, `结论：…` lose their label.
fn strip_label(line: &str) -> &str {
    for label in [
        "VERDICT", "ANSWER", "RESULT", "DECISION", "结论", "判断", "答案",
    ] {
        if let Some(rest) = line.strip_prefix(label) {
            let rest = rest.trim_start();
            if let Some(rest) = rest.strip_prefix([':', '：', '-']) {
                return rest.trim_start();
            }
        }
    }
    line
}

/// Whether `line` begins with one of the words (so `Correct, …` counts and `The correct
/// value …` does not).
fn starts_with_word(line: &str) -> bool {
    VERDICT_WORDS
        .iter()
        .chain(JUDGEMENT_WORDS)
        .any(|(w, _)| line.starts_with(w) && bounded(line, 0, w.len()))
}

/// The first of `words` in `text` as a whole word (ASCII words need non-letters around them:
/// `CORRECT` is not found in `INCORRECT`); at one position the first listed wins.
fn earliest<'w>(text: &str, words: impl Iterator<Item = &'w (&'w str, bool)>) -> Option<Verdict> {
    let mut best: Option<(usize, &str, bool)> = None;
    for &(w, accept) in words {
        let found = text
            .match_indices(w)
            .find(|(at, _)| bounded(text, *at, w.len()))
            .map(|(at, _)| at);
        if let Some(at) = found
            && best.is_none_or(|(b, _, _)| at < b)
        {
            best = Some((at, w, accept));
        }
    }
    best.map(|(_, w, accept)| Verdict {
        accept,
        word: w.to_owned(),
    })
}

/// Whether the match `text[at..at + len]` stands alone: an ASCII word must not touch an ASCII
/// letter or digit on either side (Chinese words need no spaces).
fn bounded(text: &str, at: usize, len: usize) -> bool {
    if !text[at..at + len].is_ascii() {
        return true;
    }
    let before = text[..at].chars().next_back();
    let after = text[at + len..].chars().next();
    !before.is_some_and(|c| c.is_ascii_alphanumeric())
        && !after.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The answer number (1-based in the text, returned 0-based) a judge chose among `n`, and
/// its reason: `Best: 2`, `Answer 2`, `#2`, `最佳：2`, `第2个`, else the first number in range
/// on the first line.
pub fn judge_choice(text: &str, n: usize) -> Option<(usize, String)> {
    let text = fold(text);
    let lines: Vec<&str> = text.lines().collect();
    let in_range = |s: &str| {
        numbers(s)
            .into_iter()
            .filter_map(|x| x.parse::<usize>().ok())
            .find(|&k| (1..=n).contains(&k))
    };
    let markers = ["best", "answer", "#", "最佳", "第", "选择", "choice"];
    let mut found = None;
    'outer: for (li, line) in lines.iter().enumerate() {
        let lower = line.to_lowercase();
        for m in markers {
            if let Some(at) = lower.find(m)
                && at + m.len() <= line.len()
                && let Some(k) = in_range(&line[at + m.len()..])
            {
                found = Some((li, k));
                break 'outer;
            }
        }
    }
    if found.is_none() {
        let li = lines.iter().position(|l| !l.trim().is_empty())?;
        found = in_range(lines[li]).map(|k| (li, k));
    }
    let (li, k) = found?;
    let reason: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| *i != li && !l.trim().is_empty())
        .map(|(_, l)| l.trim())
        .collect();
    let reason = if reason.is_empty() {
        lines[li].trim().to_owned()
    } else {
        reason.join(" ")
    };
    Some((k - 1, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> (AnswerKind, String) {
        let vote = extract(text).unwrap_or_else(|| panic!("no answer in {text:?}"));
        (vote.kind, vote.answer)
    }

    fn num(s: &str) -> (AnswerKind, String) {
        (AnswerKind::Number, s.to_owned())
    }

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(v("42.0"), num("42"));
        assert_eq!(v("1,024"), num("1024"));
        assert_eq!(v("The answer is 1,024."), num("1024"));
        assert_eq!(v("答案是 42"), num("42"));
        assert_eq!(v("答案是42。"), num("42"));
        assert_eq!(v("答案：四十二"), num("42"));
        assert_eq!(v("最终答案为 3.50"), num("3.5"));
        assert_eq!(v("6 × 7 = 42"), num("42"));
        assert_eq!(v("Answer: -7"), num("-7"));
        assert_eq!(v("Answer: 1/4"), num("0.25"));
        assert_eq!(v("Answer: 50%"), num("50%"));
        assert_eq!(v("Answer: **42**"), num("42"));
        assert_eq!(v("So $x = \\boxed{12}$ and we are done."), num("12"));
        assert_eq!(v("答案是 ４２"), num("42"));
        assert_eq!(v("一共有一百零五个"), num("105"));
        assert_eq!(v("两千"), num("2000"));
        // A list of numbers is not a thousands separator.
        assert_eq!(numbers("1,2,3"), vec!["1", "2", "3"]);
        assert_eq!(numbers("12,3456"), vec!["12", "3456"]);
    }

    #[test]
    fn the_marker_beats_the_working() {
        let text = "First 6 × 7 = 40 + 2.\nChecking: 2 + 40 = 42.\nAnswer: 42\n";
        assert_eq!(v(text), num("42"));
        // The last marker wins.
        assert_eq!(v("The answer is 3. No wait, the answer is 4."), num("4"));
        // Without a marker, the last number of a short last line.
        assert_eq!(v("Let me think.\nIt is 17"), num("17"));
        // A marker at the end of a line takes the next line.
        assert_eq!(
            v("Final answer:\n\n  (C)"),
            (AnswerKind::Choice, "C".into())
        );
    }

    #[test]
    fn choices_and_yes_no() {
        let c = |s: &str| (AnswerKind::Choice, s.to_owned());
        let yes = (AnswerKind::YesNo, "yes".to_owned());
        let no = (AnswerKind::YesNo, "no".to_owned());
        assert_eq!(v("(B)"), c("B"));
        assert_eq!(v("b"), c("B"));
        assert_eq!(v("Answer: B) Paris"), c("B"));
        assert_eq!(v("The answer is option d."), c("D"));
        assert_eq!(v("答案是 C"), c("C"));
        assert_eq!(v("选项B"), c("B"));
        assert_eq!(v("（A）"), c("A"));
        // An article is not a choice.
        assert_eq!(v("A cat"), (AnswerKind::Phrase, "cat".into()));
        assert_eq!(v("Yes."), yes);
        assert_eq!(v("yes, because it rains"), yes);
        assert_eq!(v("No"), no);
        assert_eq!(v("True"), yes);
        assert_eq!(v("答案：是的"), yes);
        assert_eq!(v("不是"), no);
        assert_eq!(v("否。"), no);
        // `Nothing` is not `no`.
        assert_eq!(v("Nothing"), (AnswerKind::Phrase, "nothing".into()));
    }

    #[test]
    fn phrases_and_texts() {
        assert_eq!(v("Paris."), (AnswerKind::Phrase, "paris".into()));
        assert_eq!(
            v("The Eiffel Tower"),
            (AnswerKind::Phrase, "eiffel tower".into())
        );
        assert_eq!(v("Answer: 巴黎"), (AnswerKind::Phrase, "巴黎".into()));
        let long = "It depends on many things, such as the weather, the season and the mood of the people involved";
        assert_eq!(extract(long).unwrap().kind, AnswerKind::Text);
        assert_eq!(extract("   \n "), None);
    }

    fn ballots<'a>(answers: &'a [(&'a str, u8, &'a str)]) -> Vec<Ballot<'a>> {
        answers
            .iter()
            .map(|(step, tier, text)| Ballot {
                step,
                model: step,
                tier: *tier,
                text,
            })
            .collect()
    }

    #[test]
    fn tally_majority_ties_and_tiers() {
        let t = Tally::count(&ballots(&[
            ("a", 1, "Answer: 42"),
            ("b", 1, "I get 41"),
            ("c", 1, "答案是 42.0"),
        ]));
        assert_eq!(t.winner.as_deref(), Some("42"));
        assert_eq!(
            (t.tie, t.unanimous, t.decided_by),
            (false, false, DecidedBy::Majority)
        );
        assert_eq!(t.options[0].voters, vec!["a", "c"]);
        assert_eq!(t.summary(), "42 (2) · 41 (1)");

        let t = Tally::count(&ballots(&[("a", 1, "Answer: 42"), ("b", 4, "Answer: 41")]));
        assert_eq!(t.winner.as_deref(), Some("41"));
        assert_eq!((t.tie, t.decided_by), (true, DecidedBy::Tier));

        let t = Tally::count(&ballots(&[("a", 2, "Answer: 42"), ("b", 2, "Answer: 41")]));
        assert_eq!(
            (t.winner.as_deref(), t.decided_by),
            (Some("42"), DecidedBy::Order)
        );

        let t = Tally::count(&ballots(&[("a", 2, "Yes."), ("b", 2, "yes"), ("c", 2, "")]));
        assert!(t.unanimous);
        assert_eq!(t.abstained, vec!["c"]);
        assert!(t.render().starts_with("Answer 1: yes (2 votes)\nYes."));
    }

    #[test]
    fn verdicts_and_judge_choices() {
        assert_eq!(verdict("ACCEPT\nLooks right."), Some(true));
        assert_eq!(verdict("REJECT: the sum is wrong"), Some(false));
        assert_eq!(verdict("Incorrect."), Some(false));
        assert_eq!(verdict("不正确，应该是 42"), Some(false));
        assert_eq!(verdict("正确"), Some(true));
        assert_eq!(verdict("Hmm."), None);
    }

    /// The verifier used to need ACCEPT on its first line; a verdict later in the reply, or
    /// in other words, sent every cascade to the strong model.
    #[test]
    fn verdicts_anywhere_in_the_reply_with_the_deciding_word() {
        let read = |t: &str| read_verdict(t).map(|v| (v.accept, v.word));
        let v = |accept: bool, w: &str| Some((accept, w.to_owned()));
        assert_eq!(
            read("Let me check: 6 × 7 = 42.\nThe proposed answer matches.\n\nACCEPT"),
            v(true, "ACCEPT")
        );
        assert_eq!(
            read("Checking the sum.\nVerdict: **REJECT** — it is 41, not 42."),
            v(false, "REJECT")
        );
        assert_eq!(read("I checked it.\nYes, it is right."), v(true, "YES"));
        assert_eq!(read("I checked it.\nNo. The sum is 41."), v(false, "NO"));
        assert_eq!(
            read("Working through it.\nCorrect: 42 is the product."),
            v(true, "CORRECT")
        );
        assert_eq!(
            read("Working through it.\nIncorrect; the correct value is 41."),
            v(false, "INCORRECT")
        );
        assert_eq!(read("The answer is not correct."), v(false, "NOT CORRECT"));
        assert_eq!(read("我检查了一下。\n是的，答案正确。"), v(true, "是的"));
        assert_eq!(read("我检查了一下。\n否，应该是 41。"), v(false, "否"));
        assert_eq!(read("结论：不通过"), v(false, "不通过"));
        // Prose that merely uses the words decides nothing.
        assert_eq!(
            read("Let me see.\nThe correct approach multiplies.\nThere is no shortcut."),
            None
        );
        assert_eq!(read("The answer needs more work"), None);

        assert_eq!(
            judge_choice("Best: 2\nIt shows its work.", 3),
            Some((1, "It shows its work.".into()))
        );
        assert_eq!(
            judge_choice("I prefer answer #3 because it is short.", 3)
                .unwrap()
                .0,
            2
        );
        assert_eq!(judge_choice("最佳：1\n理由充分", 2).unwrap().0, 0);
        assert_eq!(judge_choice("2", 2).unwrap().0, 1);
        // Out of range or absent: no choice.
        assert_eq!(judge_choice("Best: 7", 3), None);
        assert_eq!(judge_choice("They are all fine.", 3), None);
    }
}
