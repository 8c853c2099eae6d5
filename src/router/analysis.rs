//! Request analysis: the task type and a complexity score, from the text alone.
//!
//! Deterministic and cheap (no model call; every cue list is matched in a single pass by one
//! Aho-Corasick automaton): routing every request through it must cost microseconds. Cues
//! come in English and Chinese; each task sums the weights of the distinct cues found, cues at
//! the start of the prompt (the instruction) count double, and the highest score wins, ties
//! going to the more specific task.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use serde::Serialize;

use crate::config::Task;
use crate::types::{ChatRequest, ContentPart, Role};

/// What the router knows about a request before choosing a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub task: Task,
    /// 0 (trivial) to 1 (long, multi-part, demanding).
    pub complexity: f32,
    /// Estimated prompt tokens (all messages).
    pub input_tokens: u32,
    /// Any image part present.
    pub vision: bool,
    /// The prompt is long enough that small context windows are ruled out.
    pub long_context: bool,
    /// How many separate questions or numbered parts the prompt holds.
    pub parts: u32,
    /// Share of CJK characters in the last user message.
    pub cjk_ratio: f32,
}

/// Prompts longer than this many tokens count as long-context requests.
pub const LONG_CONTEXT_TOKENS: u32 = 12_000;

/// A cue: text to look for (lower-cased) and its weight.
type Cue = (&'static str, f32);

const CODE: &[Cue] = &[
    ("pandas", 3.0),
    ("dataframe", 3.0),
    ("numpy", 3.0),
    ("linux", 2.0),
    ("python function", 3.0),
    ("function that", 2.0),
    ("directory", 1.0),
    ("terminal", 1.5),
    ("```", 3.0),
    ("python", 2.0),
    ("javascript", 2.0),
    ("typescript", 2.0),
    ("rust", 1.5),
    ("java", 1.5),
    ("c++", 2.0),
    ("golang", 2.0),
    ("sql", 2.0),
    ("regex", 2.0),
    ("regular expression", 2.0),
    ("function", 2.0),
    ("code", 2.0),
    ("bug", 2.0),
    ("debug", 2.0),
    ("compile", 2.0),
    ("traceback", 3.0),
    ("exception", 1.5),
    ("error:", 2.0),
    ("stack trace", 3.0),
    ("script", 1.5),
    ("implement", 1.5),
    ("refactor", 3.0),
    ("algorithm", 1.5),
    ("api", 1.0),
    ("bash", 2.0),
    ("shell", 1.5),
    ("command line", 2.0),
    ("git ", 1.5),
    ("docker", 1.5),
    ("html", 1.5),
    ("css", 1.5),
    ("json schema", 1.5),
    ("unit test", 2.0),
    ("class ", 1.0),
    ("def ", 2.0),
    ("fn ", 1.5),
    ("segfault", 3.0),
    ("null pointer", 2.5),
    ("npm", 2.0),
    ("kubernetes", 1.5),
    ("query to", 1.0),
    ("select ", 1.0),
    ("linked list", 2.0),
    ("binary search", 2.0),
    ("quicksort", 2.0),
    ("sort an array", 2.0),
    ("compiler", 2.0),
    ("代码", 3.0),
    ("函数", 2.0),
    ("编程", 3.0),
    ("程序", 2.0),
    ("报错", 3.0),
    ("bug", 2.0),
    ("脚本", 2.5),
    ("正则", 3.0),
    ("算法", 1.5),
    ("快速排序", 2.5),
    ("编译", 2.5),
    ("接口", 1.0),
    ("数据库", 1.0),
    ("查询语句", 2.5),
    ("调试", 2.5),
    ("重构", 3.0),
    ("异常", 1.5),
    ("命令行", 2.0),
    ("单元测试", 2.5),
    ("变量", 1.5),
    ("类型错误", 2.5),
    ("前端", 1.5),
    ("后端", 1.5),
];

const MATH: &[Cue] = &[
    ("interest", 1.5),
    ("compounded", 3.0),
    ("how much will", 1.5),
    ("annual", 1.0),
    ("solve", 2.0),
    ("equation", 3.0),
    ("integral", 3.0),
    ("derivative", 3.0),
    ("calculate", 1.5),
    ("compute", 1.0),
    ("probability", 3.0),
    ("prove that", 3.0),
    ("theorem", 2.5),
    ("x^2", 3.0),
    ("x²", 3.0),
    ("sqrt", 2.0),
    ("square root", 2.5),
    ("how many", 1.0),
    ("sum of", 1.5),
    ("percent", 1.0),
    ("average of", 1.0),
    ("matrix", 2.0),
    ("eigen", 3.0),
    ("factorial", 2.5),
    ("prime", 1.5),
    ("fraction", 2.0),
    ("limit of", 3.0),
    ("geometry", 2.5),
    ("triangle", 2.0),
    ("circle", 1.0),
    ("area of", 2.0),
    ("volume of", 2.0),
    ("interest rate", 1.5),
    ("dice", 2.0),
    ("expected value", 3.0),
    ("simplify", 2.0),
    ("polynomial", 3.0),
    ("logarithm", 3.0),
    ("per hour", 1.0),
    ("km/h", 1.5),
    ("mph", 1.5),
    ("remainder", 2.0),
    ("divisible", 2.5),
    ("解方程", 4.0),
    ("方程", 3.0),
    ("计算", 2.0),
    ("概率", 3.0),
    ("积分", 3.0),
    ("导数", 3.0),
    ("证明", 2.0),
    ("几何", 3.0),
    ("三角形", 2.5),
    ("面积", 2.0),
    ("体积", 2.0),
    ("多少", 1.0),
    ("求解", 3.0),
    ("求和", 3.0),
    ("数列", 3.0),
    ("函数的", 1.0),
    ("极限", 3.0),
    ("矩阵", 2.5),
    ("平方", 2.0),
    ("质数", 2.5),
    ("素数", 2.5),
    ("分数", 1.5),
    ("利率", 1.5),
    ("百分之", 1.0),
    ("骰子", 2.5),
    ("期望值", 3.0),
    ("化简", 2.5),
    ("公里", 1.0),
    ("小时", 0.5),
    ("余数", 2.5),
    ("整除", 2.5),
    ("多项式", 3.0),
    ("对数", 3.0),
    ("等于多少", 2.5),
];

const REASONING: &[Cue] = &[
    ("taller than", 2.5),
    ("shorter than", 2.5),
    ("older than", 2.5),
    ("younger than", 2.5),
    ("likely causes", 2.5),
    ("walk me through", 1.0),
    ("how can you", 1.5),
    ("without looking", 2.0),
    ("真话", 3.0),
    ("假话", 3.0),
    ("小偷", 2.0),
    ("谁是", 1.0),
    ("why", 1.5),
    ("analyze", 2.5),
    ("analyse", 2.5),
    ("analysis", 2.0),
    ("compare", 2.0),
    ("pros and cons", 3.0),
    ("trade-off", 2.5),
    ("tradeoff", 2.5),
    ("trend", 2.0),
    ("step by step", 2.0),
    ("logic", 2.0),
    ("puzzle", 3.0),
    ("riddle", 3.0),
    ("implication", 2.0),
    ("evaluate", 1.5),
    ("strategy", 1.5),
    ("plan ", 1.0),
    ("should i", 1.5),
    ("reason", 1.0),
    ("cause", 1.5),
    ("effect of", 1.5),
    ("impact", 1.5),
    ("argue", 2.0),
    ("which is better", 2.5),
    ("decide", 1.5),
    ("deduce", 3.0),
    ("infer", 2.0),
    ("hypothes", 2.0),
    ("if all", 2.5),
    ("who is lying", 3.0),
    ("tells the truth", 3.0),
    ("consequence", 2.0),
    ("assess", 2.0),
    ("分析", 3.0),
    ("趋势", 2.5),
    ("为什么", 2.0),
    ("推理", 3.0),
    ("比较", 2.0),
    ("逻辑", 2.5),
    ("利弊", 3.0),
    ("原因", 2.0),
    ("影响", 1.5),
    ("评估", 2.0),
    ("策略", 1.5),
    ("规划", 1.5),
    ("谜题", 3.0),
    ("说谎", 3.0),
    ("说真话", 3.0),
    ("优缺点", 3.0),
    ("如何看待", 2.0),
    ("论证", 2.5),
    ("应该选择", 2.0),
    ("哪个更好", 2.5),
    ("判断", 1.5),
    ("推断", 3.0),
    ("后果", 2.0),
];

const TRANSLATION: &[Cue] = &[
    ("how do you say", 4.0),
    ("in japanese", 2.5),
    ("in chinese", 2.0),
    ("in english", 2.0),
    ("render the following into", 4.0),
    ("into formal", 2.0),
    ("translate", 5.0),
    ("translation", 4.0),
    ("into english", 4.0),
    ("into chinese", 4.0),
    ("into french", 4.0),
    ("into german", 4.0),
    ("into spanish", 4.0),
    ("into japanese", 4.0),
    ("to english", 2.5),
    ("to chinese", 2.5),
    ("in french", 1.5),
    ("in spanish", 1.5),
    ("翻译", 5.0),
    ("译成", 5.0),
    ("译为", 5.0),
    ("翻成", 5.0),
    ("英译中", 5.0),
    ("中译英", 5.0),
    ("用英文说", 3.0),
    ("用英语", 2.0),
    ("英文怎么说", 4.0),
    ("日语怎么说", 4.0),
];

const SUMMARIZATION: &[Cue] = &[
    ("缩写", 4.0),
    ("字以内", 2.0),
    ("shorten", 2.5),
    ("summarize", 5.0),
    ("summarise", 5.0),
    ("summary", 4.0),
    ("tl;dr", 5.0),
    ("tldr", 5.0),
    ("key points", 3.0),
    ("main points", 3.0),
    ("in a nutshell", 3.0),
    ("condense", 3.0),
    ("brief overview of the following", 3.0),
    ("gist", 3.0),
    ("recap", 3.0),
    ("in one sentence", 1.5),
    ("总结", 5.0),
    ("概括", 5.0),
    ("摘要", 5.0),
    ("归纳", 4.0),
    ("要点", 3.0),
    ("概述", 4.0),
    ("简述", 2.5),
    ("一句话说明", 2.0),
    ("缩写成", 3.0),
    ("提炼", 3.0),
];

const EXTRACTION: &[Cue] = &[
    ("from this", 1.5),
    ("from the following", 1.5),
    ("fields", 2.0),
    ("field for each", 2.5),
    ("parse this", 3.0),
    ("into fields", 3.0),
    ("in this json", 2.5),
    ("the value of", 1.5),
    ("extract", 5.0),
    ("pull out", 4.0),
    ("find all", 2.0),
    ("list all the", 3.0),
    ("list every", 3.0),
    ("identify all", 3.0),
    ("as json", 2.5),
    ("in json", 2.0),
    ("named entit", 4.0),
    ("email addresses", 3.0),
    ("phone numbers", 3.0),
    ("parse the", 2.0),
    ("fill in the fields", 3.0),
    ("key-value", 3.0),
    ("from the following text", 2.0),
    ("from this text", 2.0),
    ("from the text", 2.0),
    ("which dates", 2.5),
    ("mentioned in", 2.0),
    ("提取", 5.0),
    ("抽取", 5.0),
    ("找出", 2.5),
    ("列出所有", 3.0),
    ("识别出", 3.0),
    ("实体", 3.0),
    ("json格式", 2.5),
    ("以json", 2.5),
    ("字段", 2.0),
    ("人名", 2.5),
    ("日期", 1.5),
    ("邮箱", 2.0),
    ("电话号码", 2.0),
    ("地址", 1.0),
    ("金额", 1.5),
];

const CREATIVE: &[Cue] = &[
    ("绝句", 4.0),
    ("写一首", 3.0),
    ("七言", 3.0),
    ("五言", 3.0),
    ("律诗", 4.0),
    ("poem", 5.0),
    ("haiku", 5.0),
    ("story", 3.0),
    ("short story", 4.0),
    ("limerick", 5.0),
    ("slogan", 4.0),
    ("lyrics", 4.0),
    ("song", 2.5),
    ("joke", 3.5),
    ("tagline", 4.0),
    ("fairy tale", 4.0),
    ("fiction", 3.0),
    ("novel", 2.0),
    ("screenplay", 4.0),
    ("sonnet", 5.0),
    ("rap", 1.5),
    ("creative", 2.5),
    ("imagine", 1.5),
    ("write a scene", 4.0),
    ("marketing copy", 4.0),
    ("ad copy", 4.0),
    ("product description", 3.0),
    ("birthday message", 3.0),
    ("toast", 2.0),
    ("诗", 4.0),
    ("故事", 3.5),
    ("写一篇", 2.0),
    ("创作", 3.5),
    ("口号", 4.0),
    ("歌词", 4.0),
    ("笑话", 3.5),
    ("文案", 4.0),
    ("小说", 3.0),
    ("剧本", 4.0),
    ("对联", 4.0),
    ("作文", 3.0),
    ("广告语", 4.0),
    ("祝福语", 3.5),
    ("童话", 4.0),
    ("散文", 3.5),
    ("绕口令", 4.0),
];

/// Plain questions and small talk: evidence against a more specific task.
const CHAT: &[Cue] = &[
    ("the story behind", 4.0),
    ("what's the story", 3.0),
    ("who wrote", 3.0),
    ("who is", 1.0),
    ("what is the capital", 4.0),
    ("capital of", 3.0),
    ("recommend", 1.5),
    ("how are you", 4.0),
    ("hello", 2.0),
    ("good morning", 2.0),
    ("thank you", 1.5),
    ("what does", 1.0),
    ("meaning of", 1.5),
    ("你好", 3.0),
    ("谢谢", 2.0),
    ("天气", 2.0),
    ("推荐", 1.5),
    ("是谁", 1.5),
    ("首都", 3.0),
    ("什么意思", 2.0),
    ("是什么", 1.0),
];

/// Cues that a prompt needs careful reasoning, whatever its task (raise complexity).
const DEPTH_CUES: &[&str] = &[
    "step by step",
    "prove",
    "in detail",
    "detailed",
    "thorough",
    "comprehensive",
    "analyze",
    "analyse",
    "compare",
    "trade-off",
    "explain why",
    "derive",
    "justify",
    "rigorous",
    "详细",
    "深入",
    "逐步",
    "一步一步",
    "证明",
    "推导",
    "全面",
    "分析",
    "比较",
    "论证",
    "为什么",
];

/// Counts CJK ideographs and other characters in one pass.
fn char_counts(text: &str) -> (usize, usize) {
    // Agents' prompts are tens of KB of mostly ASCII: check that at memory speed first.
    if text.is_ascii() {
        return (0, text.len());
    }
    let mut cjk = 0;
    let mut other = 0;
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    (cjk, other)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// Estimated tokens: about one per CJK character, one per four other characters.
pub fn estimate_tokens(text: &str) -> u32 {
    let (cjk, other) = char_counts(text);
    (cjk + other.div_ceil(4)) as u32
}

/// What a cue is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Task(usize),
    /// The prompt asks for careful reasoning (raises complexity).
    Depth,
}

/// The tasks cues can point to, in tie-breaking order (more specific first).
const TASKS: [(Task, &[Cue]); 8] = [
    (Task::Translation, TRANSLATION),
    (Task::Summarization, SUMMARIZATION),
    (Task::Extraction, EXTRACTION),
    (Task::Code, CODE),
    (Task::Math, MATH),
    (Task::Creative, CREATIVE),
    (Task::Reasoning, REASONING),
    (Task::Chat, CHAT),
];

struct Matcher {
    automaton: AhoCorasick,
    /// Per pattern: its category and weight.
    meta: Vec<(Category, f32)>,
}

fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        let mut patterns = Vec::new();
        let mut meta = Vec::new();
        for (i, (_, cues)) in TASKS.iter().enumerate() {
            for (cue, w) in *cues {
                patterns.push(*cue);
                meta.push((Category::Task(i), *w));
            }
        }
        for cue in DEPTH_CUES {
            patterns.push(cue);
            meta.push((Category::Depth, 1.0));
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .expect("the cue lists are valid patterns");
        Matcher { automaton, meta }
    })
}

/// Per-task scores and the number of depth cues, from one pass over `text`. Each distinct
/// cue counts once; cues that start within the first `head_len` bytes count twice.
fn scores(text: &str, head_len: usize) -> ([f32; TASKS.len()], usize) {
    let m = matcher();
    let mut seen = vec![false; m.meta.len()];
    let mut task_scores = [0.0f32; TASKS.len()];
    let mut depth = 0;
    let bytes = text.as_bytes();
    for found in m.automaton.find_overlapping_iter(text) {
        let id = found.pattern().as_usize();
        if seen[id] || !at_word_boundary(bytes, found.start(), found.end()) {
            continue;
        }
        seen[id] = true;
        match m.meta[id] {
            (Category::Task(i), w) => {
                task_scores[i] += if found.start() < head_len { 2.0 * w } else { w };
            }
            (Category::Depth, _) => depth += 1,
        }
    }
    (task_scores, depth)
}

/// English cues must start a word ("api" is not in "capital"); short ones must also end one
/// ("dice" is not in "prejudice"), longer ones may take a suffix ("analyzes", "stories").
fn at_word_boundary(text: &[u8], start: usize, end: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric();
    if !word(text[start]) {
        return true;
    }
    if start > 0 && word(text[start - 1]) {
        return false;
    }
    end - start > 4 || end == text.len() || !word(text[end]) || !word(text[end - 1])
}

/// Long prompts are scanned at their start and end, where instructions are.
const SCAN_HEAD: usize = 4000;
const SCAN_TAIL: usize = 1000;

/// Numbered parts ("1.", "2)", "(3)", "①", "第二") and question marks.
fn count_parts(text: &str) -> u32 {
    let mut numbered = 0u32;
    for n in 1..=9 {
        let d = char::from(b'0' + n);
        if [
            format!("{d}."),
            format!("{d})"),
            format!("({d})"),
            format!("{d}、"),
        ]
        .iter()
        .any(|p| text.contains(p.as_str()))
        {
            numbered = n.into();
        } else {
            break;
        }
    }
    let circled = text.chars().filter(|c| ('①'..='⑳').contains(c)).count() as u32;
    let questions = text.chars().filter(|c| *c == '?' || *c == '？').count() as u32;
    numbered.max(circled).max(questions).max(1)
}

/// Analyses a request.
pub fn analyze(req: &ChatRequest) -> Analysis {
    let vision = req.messages.iter().any(|m| m.has_image());
    let mut input_tokens = 0u32;
    for m in &req.messages {
        for part in &m.content {
            input_tokens += match part {
                ContentPart::Text { text, .. } => estimate_tokens(text),
                ContentPart::ToolUse { input, .. } => estimate_tokens(&input.to_string()),
                ContentPart::ToolResult { content, .. } => {
                    estimate_tokens(&crate::types::text_of(content))
                }
                ContentPart::Thinking { text, .. } => estimate_tokens(text),
                // Providers bill an image at several hundred tokens.
                _ => 765,
            };
        }
        input_tokens += 4;
    }
    let prompt = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.joined_text())
        .unwrap_or_default();
    // The instruction is usually at the start; content to work on follows.
    let head_len = prompt
        .char_indices()
        .nth(60)
        .map_or(prompt.len(), |(i, _)| i);
    let scanned = scan_window(&prompt);
    let (task_scores, depth) = scores(&scanned, head_len);
    let (cjk, other) = char_counts(&prompt);
    let cjk_ratio = if cjk + other == 0 {
        0.0
    } else {
        cjk as f32 / (cjk + other) as f32
    };

    let long_context = input_tokens > LONG_CONTEXT_TOKENS;
    let task = if vision {
        Task::Vision
    } else {
        let mut best = (Task::Chat, 0.0f32);
        for (i, (task, _)) in TASKS.iter().enumerate() {
            let shape = match task {
                Task::Code => code_shape(&scanned),
                Task::Math => math_shape(&scanned),
                _ => 0.0,
            };
            let s = task_scores[i] + shape;
            // Strictly greater: on a tie the earlier, more specific task stays.
            if s > best.1 {
                best = (*task, s);
            }
        }
        let (best, s) = best;
        if s >= 2.0 {
            best
        } else if long_context {
            Task::LongContext
        } else {
            Task::Chat
        }
    };

    let parts = count_parts(&prompt);
    let length = ((input_tokens.max(1) as f32).ln() / 2000f32.ln()).clamp(0.0, 1.0);
    let structure = ((parts - 1) as f32 / 4.0).clamp(0.0, 1.0);
    let cues = (depth as f32 / 3.0).clamp(0.0, 1.0);
    let base = match task {
        Task::Math | Task::Reasoning | Task::Code => 0.6,
        Task::LongContext | Task::Vision | Task::Extraction | Task::Summarization => 0.4,
        Task::Translation | Task::Creative => 0.3,
        Task::Chat | Task::Embedding => 0.1,
    };
    let complexity = (0.35 * length + 0.25 * structure + 0.25 * cues + 0.15 * base).clamp(0.0, 1.0);
    Analysis {
        task,
        complexity,
        input_tokens,
        vision,
        long_context,
        parts,
        cjk_ratio,
    }
}

/// The start and end of a long prompt (whole characters), or all of a short one.
fn scan_window(prompt: &str) -> std::borrow::Cow<'_, str> {
    if prompt.len() <= SCAN_HEAD + SCAN_TAIL {
        return prompt.into();
    }
    let mut head_end = SCAN_HEAD;
    while !prompt.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = prompt.len() - SCAN_TAIL;
    while !prompt.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{}\n{}", &prompt[..head_end], &prompt[tail_start..]).into()
}

/// Code-shaped text: braces with semicolons, `=>`, `::`, indentation after a colon.
fn code_shape(text: &str) -> f32 {
    let mut s = 0.0;
    if text.contains('{') && text.contains('}') && text.contains(';') {
        s += 2.0;
    }
    if text.contains("=>") || text.contains("::") || text.contains("->") || text.contains("();") {
        s += 1.5;
    }
    if text.contains("import ") || text.contains("#include") || text.contains("console.log") {
        s += 2.0;
    }
    s
}

/// Arithmetic-shaped text: a digit, an operator and `=`, or an expression like `3x + 2`.
fn math_shape(text: &str) -> f32 {
    let bytes = text.as_bytes();
    let mut digit_op_digit = false;
    for w in bytes.windows(3) {
        let op = matches!(w[1], b'+' | b'*' | b'/' | b'^' | b'-');
        if w[0].is_ascii_digit() && op && (w[2].is_ascii_digit() || w[2] == b'x' || w[2] == b'(') {
            digit_op_digit = true;
            break;
        }
    }
    let spaced = text.contains(" + ")
        || text.contains(" × ")
        || text.contains(" * ")
        || text.contains(" ÷ ");
    let mut s = 0.0;
    if digit_op_digit || spaced {
        s += 2.0;
        if text.contains('=') {
            s += 1.5;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(prompt: &str) -> Task {
        analyze(&ChatRequest::simple("auto", None, prompt)).task
    }

    #[test]
    fn recognises_tasks_in_both_languages() {
        assert_eq!(task("解方程 x^2 - 5x + 6 = 0"), Task::Math);
        assert_eq!(
            task("Translate 'good morning' into French"),
            Task::Translation
        );
        assert_eq!(
            task("请把这句话翻译成英文：今天天气很好"),
            Task::Translation
        );
        assert_eq!(task("用Python写一个快速排序"), Task::Code);
        assert_eq!(
            task("分析一下过去十年新能源汽车销量的趋势"),
            Task::Reasoning
        );
        assert_eq!(
            task("总结下面这段话：人工智能正在改变各行各业……"),
            Task::Summarization
        );
        assert_eq!(task("Write a haiku about autumn"), Task::Creative);
        assert_eq!(task("hello!"), Task::Chat);
    }

    #[test]
    fn complexity_grows_with_structure_and_depth() {
        let easy = analyze(&ChatRequest::simple("a", None, "hi")).complexity;
        let hard = analyze(&ChatRequest::simple(
            "a",
            None,
            "Analyze step by step and prove each claim: 1. Why do markets crash? 2. Compare 1929 and 2008. 3. What are the trade-offs of each policy response? 4. What would you recommend?",
        ))
        .complexity;
        assert!(easy < 0.2, "{easy}");
        assert!(hard > 0.6, "{hard}");
    }

    #[test]
    fn images_mean_vision_and_long_prompts_are_long_context() {
        let mut req = ChatRequest::simple("a", None, "what is in this picture");
        req.messages[0].content.push(ContentPart::Image {
            source: crate::types::MediaSource::from_url("https://x/y.png".into()),
            detail: None,
            cache_control: None,
        });
        let a = analyze(&req);
        assert_eq!(a.task, Task::Vision);
        assert!(a.vision);
        let long = "lorem ipsum dolor sit amet ".repeat(3000);
        let a = analyze(&ChatRequest::simple("a", None, &long));
        assert!(a.long_context);
        assert_eq!(a.task, Task::LongContext);
    }

    #[test]
    fn cjk_tokens_count_per_character() {
        assert_eq!(estimate_tokens("你好世界"), 4);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
    }
}
