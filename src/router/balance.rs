//! Load balancing among the deployments of one model name.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a request picks among replicas of one model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum BalancePolicy {
    /// Each replica in turn.
    RoundRobin,
    /// At random, in proportion to each replica's `weight`.
    Weighted,
    /// The replica with the fewest requests in flight.
    LeastInFlight,
    /// The replica with the shortest time to first token (moving average).
    ShortestTtft,
    /// The less loaded of two replicas picked at random.
    #[default]
    PowerOfTwo,
    /// The same prompt prefix or session to the same replica (reusing its KV cache), unless
    /// it carries `affinity_imbalance` more requests than the least loaded one.
    PrefixAffinity,
}

/// What balancing knows about one replica.
#[derive(Debug, Clone, Copy)]
pub struct Replica {
    /// An identity stable across requests (the deployment's index).
    pub id: usize,
    pub weight: f64,
    pub in_flight: u32,
    pub ttft_ms: Option<f64>,
}

/// Orders `replicas`: the first is the pick, the rest the failover order.
pub fn order(
    policy: BalancePolicy,
    replicas: &[Replica],
    turn: u64,
    affinity: Option<u64>,
    imbalance: u32,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let n = replicas.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if n <= 1 {
        return idx;
    }
    let least_loaded = |idx: &mut Vec<usize>| {
        // Rotating first keeps ties from always going to the same replica.
        idx.rotate_left((turn % n as u64) as usize);
        idx.sort_by_key(|&i| replicas[i].in_flight);
    };
    match policy {
        BalancePolicy::RoundRobin => idx.rotate_left((turn % n as u64) as usize),
        BalancePolicy::Weighted => {
            let total: f64 = replicas.iter().map(|r| r.weight).sum();
            let mut x = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, r) in replicas.iter().enumerate() {
                if x < r.weight {
                    pick = i;
                    break;
                }
                x -= r.weight;
            }
            idx.sort_by(|&a, &b| replicas[b].weight.total_cmp(&replicas[a].weight));
            idx.retain(|&i| i != pick);
            idx.insert(0, pick);
        }
        BalancePolicy::LeastInFlight => least_loaded(&mut idx),
        BalancePolicy::ShortestTtft => {
            idx.rotate_left((turn % n as u64) as usize);
            // Unmeasured replicas go first so they get measured.
            idx.sort_by(|&a, &b| {
                let ta = replicas[a].ttft_ms.unwrap_or(0.0);
                let tb = replicas[b].ttft_ms.unwrap_or(0.0);
                ta.total_cmp(&tb)
                    .then(replicas[a].in_flight.cmp(&replicas[b].in_flight))
            });
        }
        BalancePolicy::PowerOfTwo => {
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            let pick = if replicas[b].in_flight < replicas[a].in_flight {
                b
            } else {
                a
            };
            least_loaded(&mut idx);
            idx.retain(|&i| i != pick);
            idx.insert(0, pick);
        }
        BalancePolicy::PrefixAffinity => match affinity {
            None => least_loaded(&mut idx),
            Some(key) => {
                // Rendezvous hashing: a replica keeps its keys when others come and go.
                idx.sort_by_key(|&i| std::cmp::Reverse(mix(key, replicas[i].id as u64)));
                let min = replicas.iter().map(|r| r.in_flight).min().unwrap_or(0);
                if replicas[idx[0]].in_flight > min + imbalance {
                    least_loaded(&mut idx);
                }
            }
        },
    }
    idx
}

fn mix(a: u64, b: u64) -> u64 {
    crate::store::hash::hash64("replica", &[&a.to_le_bytes(), &b.to_le_bytes()])
}

/// The affinity key of a request: its session (or `prompt_cache_key`, or user), else its
/// first 1 KiB of text.
pub fn affinity_key(req: &crate::types::ChatRequest) -> u64 {
    use crate::store::hash::{StableHasher, hash64};
    let cache_key = req.passthrough.as_ref().and_then(|(_, p)| {
        p.fields
            .get("prompt_cache_key")
            .and_then(serde_json::Value::as_str)
    });
    if let Some(session) = req
        .metadata
        .get("session_id")
        .map(String::as_str)
        .or(cache_key)
        .or(req.user.as_deref())
    {
        return hash64("affinity-session", &[session.as_bytes()]);
    }
    let mut h = StableHasher::new("affinity-prefix");
    let mut taken = 0;
    for m in &req.messages {
        let text = m.joined_text();
        let room = 1024 - taken;
        let cut = text
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| i >= room)
            .unwrap_or(text.len());
        h.write(&text.as_bytes()[..cut]);
        taken += cut;
        if taken >= 1024 {
            break;
        }
    }
    h.finish()
}

/// [`affinity_key`] for a request forwarded as written: its session, `prompt_cache_key` or
/// user as the protocol spells them, else the first 1 KiB of its raw `system` and `messages`
/// (the JSON as the client wrote it, which an agent repeats byte for byte turn after turn).
pub fn verbatim_affinity_key(req: &crate::protocol::verbatim::Verbatim) -> u64 {
    use crate::store::hash::{StableHasher, hash64};
    use serde_json::Value;
    let field = |key: &str| -> Option<Value> { serde_json::from_slice(req.get(key)?).ok() };
    let metadata = field("metadata");
    let session = [
        metadata.as_ref().and_then(|m| m.get("session_id")).cloned(),
        field("prompt_cache_key"),
        field("user"),
        metadata.as_ref().and_then(|m| m.get("user_id")).cloned(),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().map(str::to_owned));
    if let Some(session) = session {
        return hash64("affinity-session", &[session.as_bytes()]);
    }
    let mut h = StableHasher::new("affinity-raw-prefix");
    let mut room = 1024;
    for key in ["system", "messages"] {
        let raw = req.get(key).unwrap_or_default();
        let take = raw.len().min(room);
        h.write(&raw[..take]);
        room -= take;
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn replicas(loads: &[u32]) -> Vec<Replica> {
        loads
            .iter()
            .enumerate()
            .map(|(id, &in_flight)| Replica {
                id,
                weight: 1.0,
                in_flight,
                ttft_ms: None,
            })
            .collect()
    }

    #[test]
    fn round_robin_cycles() {
        let r = replicas(&[0, 0, 0]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let picks: Vec<usize> = (0..6)
            .map(|t| order(BalancePolicy::RoundRobin, &r, t, None, 0, &mut rng)[0])
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_in_flight_picks_the_idle_one() {
        let r = replicas(&[3, 0, 2]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            order(BalancePolicy::LeastInFlight, &r, 5, None, 0, &mut rng),
            [1, 2, 0]
        );
    }

    #[test]
    fn affinity_sticks_then_spills() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let idle = replicas(&[0, 0, 0, 0]);
        let first = order(
            BalancePolicy::PrefixAffinity,
            &idle,
            0,
            Some(42),
            2,
            &mut rng,
        )[0];
        for t in 1..20 {
            assert_eq!(
                order(
                    BalancePolicy::PrefixAffinity,
                    &idle,
                    t,
                    Some(42),
                    2,
                    &mut rng
                )[0],
                first
            );
        }
        let mut busy = idle.clone();
        busy[first].in_flight = 5;
        let spilled = order(
            BalancePolicy::PrefixAffinity,
            &busy,
            0,
            Some(42),
            2,
            &mut rng,
        )[0];
        assert_ne!(spilled, first);
    }
}
