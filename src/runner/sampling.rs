//! Choosing the next token from a row of logits: greedy, or temperature sampling restricted
//! by top-k and top-p (nucleus), from a per-request generator seeded by the request's `seed`,
//! so the same seed gives the same tokens.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How one request picks its tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p` (1 = all).
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens (0 = no limit).
    pub top_k: usize,
    /// Seeds the generator; without one a random seed is drawn.
    pub seed: Option<u64>,
}

impl Default for SamplingParams {
    /// OpenAI's defaults: temperature 1, no truncation.
    fn default() -> Self {
        SamplingParams {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            seed: None,
        }
    }
}

impl SamplingParams {
    pub fn greedy() -> Self {
        SamplingParams {
            temperature: 0.0,
            ..Default::default()
        }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }

    /// Rejects values no API accepts.
    pub fn validate(&self) -> Result<(), String> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(format!(
                "`temperature` must be 0 or more, got {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("`top_p` must be in (0, 1], got {}", self.top_p));
        }
        Ok(())
    }
}

/// One request's sampler.
#[derive(Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    /// Scratch space for candidate indices, reused between tokens.
    order: Vec<u32>,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let seed = params.seed.unwrap_or_else(|| rand::rng().random());
        Sampler {
            params,
            rng: StdRng::seed_from_u64(seed),
            order: Vec::new(),
        }
    }

    /// The next token id.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.params.is_greedy() || logits.len() < 2 {
            return argmax(logits);
        }
        let inv_t = 1.0 / f64::from(self.params.temperature);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weight = |l: f32| (f64::from(l - max) * inv_t).exp();
        let top_k = self.params.top_k;
        let top_p = f64::from(self.params.top_p);
        if top_k == 0 && top_p >= 1.0 {
            // Plain temperature sampling over the whole vocabulary, in index order.
            let total: f64 = logits.iter().map(|&l| weight(l)).sum();
            let mut r = self.rng.random::<f64>() * total;
            for (i, &l) in logits.iter().enumerate() {
                r -= weight(l);
                if r <= 0.0 {
                    return i as u32;
                }
            }
            return argmax(logits);
        }

        // The candidates, most likely first (ties: lower id first). Only the head of the
        // order is sorted: top-k needs k of them, top-p grows the head until it holds
        // `top_p` of the probability mass, which for real models is a few dozen tokens.
        let total: f64 = if top_p < 1.0 {
            logits.iter().map(|&l| weight(l)).sum()
        } else {
            0.0
        };
        self.order.clear();
        self.order.extend(0..logits.len() as u32);
        let by_logit = |a: &u32, b: &u32| {
            logits[*b as usize]
                .total_cmp(&logits[*a as usize])
                .then(a.cmp(b))
        };
        let limit = if top_k > 0 {
            top_k.min(logits.len())
        } else {
            logits.len()
        };
        let mut head = limit.min(64);
        let kept = loop {
            if head < self.order.len() {
                self.order.select_nth_unstable_by(head, by_logit);
            }
            self.order[..head].sort_unstable_by(by_logit);
            if top_p >= 1.0 {
                break head;
            }
            let mut mass = 0.0;
            let mut reached = None;
            for (n, &i) in self.order[..head].iter().enumerate() {
                mass += weight(logits[i as usize]) / total;
                if mass >= top_p {
                    reached = Some(n + 1);
                    break;
                }
            }
            match reached {
                Some(n) => break n,
                None if head >= limit => break head,
                None => head = (head * 4).min(limit),
            }
        };
        let kept = &self.order[..kept.max(1)];
        let sum: f64 = kept.iter().map(|&i| weight(logits[i as usize])).sum();
        let mut r = self.rng.random::<f64>() * sum;
        for &i in kept {
            r -= weight(logits[i as usize]);
            if r <= 0.0 {
                return i;
            }
        }
        kept[0]
    }
}

/// The index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Vec<f32> {
        (0..1000)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
            .collect()
    }

    #[test]
    fn greedy_takes_the_largest() {
        let l = logits();
        let best = argmax(&l);
        assert_eq!(l[best as usize], 9.99);
        let mut s = Sampler::new(SamplingParams::greedy());
        assert_eq!(s.sample(&l), best);
    }

    #[test]
    fn same_seed_same_tokens_other_seed_other_tokens() {
        let l = logits();
        let run = |seed| {
            let mut s = Sampler::new(SamplingParams {
                temperature: 5.0,
                seed: Some(seed),
                ..Default::default()
            });
            (0..50).map(|_| s.sample(&l)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn top_k_and_top_p_keep_only_the_head() {
        let l = logits();
        let mut sorted: Vec<u32> = (0..l.len() as u32).collect();
        sorted.sort_by(|a, b| l[*b as usize].total_cmp(&l[*a as usize]));
        let mut k = Sampler::new(SamplingParams {
            temperature: 100.0,
            top_k: 3,
            seed: Some(3),
            ..Default::default()
        });
        for _ in 0..200 {
            assert!(sorted[..3].contains(&k.sample(&l)));
        }
        // At temperature 0.005 neighbouring logits (0.01 apart) differ in weight by e², so
        // the best token holds 86.5% of the mass and the first two 98.2%: top_p = 0.9 keeps
        // exactly those two.
        let mut p = Sampler::new(SamplingParams {
            temperature: 0.005,
            top_p: 0.9,
            seed: Some(4),
            ..Default::default()
        });
        let seen: std::collections::BTreeSet<u32> = (0..400).map(|_| p.sample(&l)).collect();
        assert_eq!(seen, sorted[..2].iter().copied().collect());
    }

    #[test]
    fn invalid_parameters_are_named() {
        let bad = SamplingParams {
            top_p: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("top_p"));
    }
}
