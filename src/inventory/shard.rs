//! `--shard I/N`: a stable slice of a target's hosts, so that a CI matrix
//! can split a fleet. Host k (0-based, in target order) is in shard
//! (k mod N) + 1.

use std::fmt;
use std::str::FromStr;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The items of `all` in this shard, in their order.
    pub fn slice<T>(self, all: Vec<T>) -> Vec<T> {
        all.into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count + 1 == self.index)
            .map(|(_, item)| item)
            .collect()
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("'{s}' is not a shard: expected I/N with 1 <= I <= N, like 2/3");
        let (index, count) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            index.trim().parse().map_err(|_| bad())?,
            count.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_every_nth_host_in_order() {
        let shard: Shard = "2/3".parse().unwrap();
        assert_eq!(shard.slice((0..7).collect()), vec![1, 4]);
    }

    #[test]
    fn a_shard_outside_its_count_is_refused() {
        for bad in ["0/3", "4/3", "x", "1/0", "1/", "/3", "-1/3"] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("is not a shard"), "{bad}: {error}");
        }
    }
}
