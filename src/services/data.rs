//! Data insight: the numeric series found in CSV/TSV, JSON or text, with their statistics
//! computed here; the model interprets them.
//!
//! Formats, tried in order: JSON (an array of numbers, an array of objects whose numeric
//! fields become series, or an object of number arrays); a delimited table (`,`, tab, `;` or
//! `|`, a header row naming the columns when it is not numeric); text lines with a label and
//! two or more numbers (`sales: 10, 12, 15`); else every number in the text as one series.

use serde::Serialize;
use serde_json::Value;

use super::round6;

/// The direction of a series' least-squares line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Falling,
    /// The fitted line moves by less than 5% of the mean magnitude over the series.
    Flat,
}

/// A value far from the rest: modified z-score (median and median absolute deviation)
/// above 3.5.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    /// 0-based position in the series.
    pub index: usize,
    pub value: f64,
    pub score: f64,
}

/// One numeric series and its statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesStats {
    pub name: String,
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub std_dev: f64,
    pub sum: f64,
    pub first: f64,
    pub last: f64,
    /// Least-squares slope per step (position 0, 1, 2, …).
    pub slope: f64,
    pub trend: Trend,
    /// From the first value to the last, when the first is not 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outliers: Vec<Outlier>,
}

/// What we found in the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataFacts {
    /// `json`, `table` or `text`.
    pub format: &'static str,
    /// Data rows (table and JSON records), or lines with numbers (text).
    pub rows: usize,
    pub series: Vec<SeriesStats>,
}

/// Finds the series and computes their statistics.
pub fn facts(text: &str) -> DataFacts {
    let (format, rows, raw) = json_series(text)
        .map(|(rows, s)| ("json", rows, s))
        .or_else(|| table_series(text).map(|(rows, s)| ("table", rows, s)))
        .unwrap_or_else(|| {
            let (rows, s) = text_series(text);
            ("text", rows, s)
        });
    DataFacts {
        format,
        rows,
        series: raw
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(name, values)| stats(name, &values))
            .collect(),
    }
}

type Raw = Vec<(String, Vec<f64>)>;

fn json_series(text: &str) -> Option<(usize, Raw)> {
    let t = text.trim();
    if !(t.starts_with('[') || t.starts_with('{')) {
        return None;
    }
    let value: Value = serde_json::from_str(t).ok()?;
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_number(s),
        _ => None,
    };
    let mut out: Raw = Vec::new();
    let rows;
    match &value {
        Value::Array(items) if items.iter().all(|v| num(v).is_some()) => {
            rows = items.len();
            out.push(("values".into(), items.iter().filter_map(num).collect()));
        }
        Value::Array(items) => {
            rows = items.len();
            let mut keys: Vec<String> = Vec::new();
            for item in items {
                if let Value::Object(o) = item {
                    for k in o.keys() {
                        if !keys.contains(k) {
                            keys.push(k.clone());
                        }
                    }
                }
            }
            for k in keys {
                let values: Vec<f64> = items
                    .iter()
                    .filter_map(|i| i.get(&k).and_then(num))
                    .collect();
                // A column of numbers, not an id or label that happens to parse sometimes.
                if values.len() * 2 > items.len()
                    && items
                        .iter()
                        .filter_map(|i| i.get(&k))
                        .all(|v| num(v).is_some() || v.is_null())
                {
                    out.push((k, values));
                }
            }
        }
        Value::Object(o) => {
            rows = o.len();
            let scalars: Vec<f64> = o.values().filter_map(num).collect();
            if scalars.len() == o.len() {
                out.push(("values".into(), scalars));
            } else {
                for (k, v) in o {
                    if let Value::Array(a) = v {
                        let values: Vec<f64> = a.iter().filter_map(num).collect();
                        if values.len() == a.len() && !values.is_empty() {
                            out.push((k.clone(), values));
                        }
                    }
                }
            }
        }
        _ => return None,
    }
    (!out.is_empty()).then_some((rows, out))
}

/// A number as people write it in data: `1,234.5`, `$12`, `45%`, `"7"`, `−3`.
fn parse_number(s: &str) -> Option<f64> {
    let t = s
        .trim()
        .trim_matches('"')
        .trim()
        .trim_start_matches(['$', '€', '£', '¥', '￥'])
        .trim_end_matches('%')
        .replace(['_', ','], "")
        .replace('−', "-");
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Splits a row on `delim`, honouring double quotes.
fn split_row(line: &str, delim: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == delim && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_owned()).collect()
}

fn table_series(text: &str) -> Option<(usize, Raw)> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    // The delimiter that splits most lines into the same number (≥ 2) of fields.
    let (delim, width) = [',', '\t', ';', '|']
        .into_iter()
        .filter_map(|d| {
            let widths: Vec<usize> = lines
                .iter()
                .map(|l| split_row(l.trim().trim_matches('|'), d).len())
                .collect();
            let w = widths[0];
            let same = widths.iter().filter(|&&x| x == w).count();
            (w >= 2 && same * 5 >= lines.len() * 4).then_some((d, w, same))
        })
        .max_by_key(|&(_, w, same)| (same, w))
        .map(|(d, w, _)| (d, w))?;
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| split_row(l.trim().trim_matches('|'), delim))
        .filter(|r| r.len() == width)
        // Markdown table rules (`|---|---|`).
        .filter(|r| {
            !r.iter()
                .all(|f| !f.is_empty() && f.chars().all(|c| matches!(c, '-' | ':' | ' ')))
        })
        .collect();
    let header_is_text = rows[0]
        .iter()
        .any(|f| !f.is_empty() && parse_number(f).is_none());
    let (header, body) = if header_is_text {
        (Some(&rows[0]), &rows[1..])
    } else {
        (None, &rows[..])
    };
    if body.is_empty() {
        return None;
    }
    let mut out: Raw = Vec::new();
    for col in 0..width {
        let cells: Vec<Option<f64>> = body.iter().map(|r| parse_number(&r[col])).collect();
        let numeric = cells.iter().filter(|c| c.is_some()).count();
        if numeric == 0 || numeric * 5 < body.len() * 4 {
            continue;
        }
        let name = header
            .map(|h| h[col].clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("column {}", col + 1));
        out.push((name, cells.into_iter().flatten().collect()));
    }
    (!out.is_empty()).then_some((body.len(), out))
}

fn text_series(text: &str) -> (usize, Raw) {
    let mut labelled: Raw = Vec::new();
    let mut rows = 0;
    for line in text.lines() {
        let numbers = line_numbers(line);
        if numbers.is_empty() {
            continue;
        }
        rows += 1;
        // `label: 1, 2, 3` or `label 1 2 3`: a label, then only numbers and separators.
        let at = line
            .find(|c: char| c.is_ascii_digit() || c == '-' || c == '−')
            .unwrap_or(line.len());
        let (label, rest) = line.split_at(at);
        let label = label.trim().trim_end_matches([':', '：', '=']).trim();
        let only_numbers = rest
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || ".,;%$€£¥+-−/".contains(c));
        if numbers.len() >= 2 && !label.is_empty() && only_numbers {
            labelled.push((label.to_owned(), numbers));
        }
    }
    if !labelled.is_empty() {
        return (labelled.len(), labelled);
    }
    let all: Vec<f64> = text.lines().flat_map(line_numbers).collect();
    (
        rows,
        if all.len() >= 2 {
            vec![("values".into(), all)]
        } else {
            Vec::new()
        },
    )
}

/// The numbers of one text line, as values.
fn line_numbers(line: &str) -> Vec<f64> {
    crate::cooperation::answer::numbers(line)
        .iter()
        .filter_map(|n| n.trim_end_matches('%').parse().ok())
        .collect()
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn stats(name: String, v: &[f64]) -> SeriesStats {
    let n = v.len() as f64;
    let sum: f64 = v.iter().sum();
    let mean = sum / n;
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    let med = median(&sorted);
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    // Least squares against positions 0..n.
    let xm = (n - 1.0) / 2.0;
    let sxx: f64 = (0..v.len()).map(|i| (i as f64 - xm).powi(2)).sum();
    let sxy: f64 = v
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - xm) * (y - mean))
        .sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let scale = v.iter().map(|x| x.abs()).sum::<f64>() / n;
    let moved = slope * (n - 1.0);
    let trend = if scale == 0.0 || moved.abs() < 0.05 * scale {
        Trend::Flat
    } else if moved > 0.0 {
        Trend::Rising
    } else {
        Trend::Falling
    };
    // Modified z-scores; with a zero MAD, the mean absolute deviation stands in.
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    let mean_ad = dev.iter().sum::<f64>() / n;
    let score = |x: f64| {
        if mad > 0.0 {
            0.6745 * (x - med) / mad
        } else if mean_ad > 0.0 {
            (x - med) / (1.253314 * mean_ad)
        } else {
            0.0
        }
    };
    let outliers = if v.len() >= 4 {
        v.iter()
            .enumerate()
            .filter(|&(_, &x)| score(x).abs() > 3.5)
            .map(|(index, &value)| Outlier {
                index,
                value,
                score: (score(value) * 100.0).round() / 100.0,
            })
            .collect()
    } else {
        Vec::new()
    };
    let first = v[0];
    let last = v[v.len() - 1];
    SeriesStats {
        name,
        count: v.len(),
        min: sorted[0],
        max: sorted[v.len() - 1],
        mean: round6(mean),
        median: round6(med),
        std_dev: round6(var.sqrt()),
        sum: round6(sum),
        first,
        last,
        slope: round6(slope),
        trend,
        change_pct: (first != 0.0).then(|| round6((last - first) / first.abs() * 100.0)),
        outliers,
    }
}

/// The prompt for `kind`, with the statistics and the data.
pub fn prompt(kind: &str, f: &DataFacts, text: &str) -> String {
    let task = match kind {
        "anomalies" => {
            "Point out the anomalies in the data below: the outliers flagged in the statistics and anything else unusual, with likely explanations and what to check next."
        }
        "statistics" => {
            "Interpret the statistics of the data below for a non-specialist: what the numbers say, how reliable they are, and what they do not show."
        }
        _ => {
            "Describe the trends in the data below: which series rise, fall or stay flat, how fast, how they relate, and what stands out."
        }
    };
    let mut stats = String::new();
    for s in &f.series {
        stats.push_str(&format!(
            "- {}: n={}, min={}, max={}, mean={}, median={}, std dev={}, trend {} (slope {} per step{})",
            s.name,
            s.count,
            s.min,
            s.max,
            s.mean,
            s.median,
            s.std_dev,
            match s.trend {
                Trend::Rising => "rising",
                Trend::Falling => "falling",
                Trend::Flat => "flat",
            },
            s.slope,
            s.change_pct
                .map(|c| format!(", {c:+}% first to last"))
                .unwrap_or_default(),
        ));
        if !s.outliers.is_empty() {
            let o: Vec<String> = s
                .outliers
                .iter()
                .map(|o| format!("{} at position {}", o.value, o.index + 1))
                .collect();
            stats.push_str(&format!("; outliers: {}", o.join(", ")));
        }
        stats.push('\n');
    }
    format!(
        "{task} Use the computed statistics; do not recompute them.\n\nComputed statistics (exact, {} series, {} rows, read as {}):\n{}\nData:\n<<<\n{}\n>>>",
        f.series.len(),
        f.rows,
        f.format,
        stats,
        text.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_become_series_with_exact_statistics() {
        let f = facts("month,sales,cost\nJan,10,5\nFeb,12,5\nMar,14,5\nApr,16,5\n");
        assert_eq!((f.format, f.rows, f.series.len()), ("table", 4, 2));
        let s = &f.series[0];
        assert_eq!(s.name, "sales");
        assert_eq!(
            (s.count, s.min, s.max, s.mean, s.median),
            (4, 10.0, 16.0, 13.0, 13.0)
        );
        assert_eq!(
            (s.slope, s.trend, s.change_pct),
            (2.0, Trend::Rising, Some(60.0))
        );
        assert_eq!((f.series[1].slope, f.series[1].trend), (0.0, Trend::Flat));
        assert!((s.std_dev - 2.581989).abs() < 1e-6);
    }

    #[test]
    fn outliers_tsv_json_and_text() {
        let f = facts("day\tload\n1\t10\n2\t11\n3\t10\n4\t12\n5\t11\n6\t95\n");
        assert_eq!(f.series.len(), 2, "{f:?}");
        let load = &f.series[1];
        assert_eq!(load.outliers.len(), 1);
        assert_eq!((load.outliers[0].index, load.outliers[0].value), (5, 95.0));

        let f = facts(r#"[{"t": "a", "v": 3}, {"t": "b", "v": 2}, {"t": "c", "v": 1}]"#);
        assert_eq!(
            (f.format, f.series.len(), f.series[0].trend),
            ("json", 1, Trend::Falling)
        );
        let f = facts(r#"{"north": [1, 2, 3], "south": [3, 3, 3]}"#);
        assert_eq!(
            f.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["north", "south"]
        );

        let f = facts("Revenue: 1,200, 1,350, 1,500\nCosts: 800, 790, 805\n");
        assert_eq!(f.format, "text");
        assert_eq!(f.series[0].name, "Revenue");
        assert_eq!(f.series[0].max, 1500.0);
        assert_eq!(f.series[1].trend, Trend::Flat);

        let f = facts("We sold 5 in May, 7 in June and 9 in July.");
        assert_eq!(f.series[0].name, "values");
        assert_eq!(f.series[0].count, 3);
        assert!(facts("no numbers here").series.is_empty());
    }
}
