//! Partitions: how one conversation's events stay in order while different conversations run
//! in parallel on any number of workers.
//!
//! Every event is published to one of `QUEUE_PARTITIONS` partitions, chosen from its
//! `conversation_key` by [`partition_of`]: a stable 64-bit FNV-1a hash of the key, spread over
//! the partitions with jump consistent hashing (Lamping & Veach, 2014). The hash is fixed here
//! rather than taken from the standard library, whose hasher may change between Rust releases:
//! ingress instances of different builds must agree. Jump hashing moves only about `1/n` of the
//! conversations when the partition count grows from `n - 1` to `n`; a conversation that moves
//! may see its next events overtake ones still queued in its old partition, so change the count
//! while the queues are drained.
//!
//! Each partition is consumed by one worker at a time; [`assign`] spreads the partitions over
//! the workers that are alive, the same way on every worker that sees the same members.

/// A partition number, below the partition count.
pub type Partition = u16;

/// The partition of the conversation `key` among `partitions` (at least 1).
pub fn partition_of(key: &str, partitions: u16) -> Partition {
    let buckets = i64::from(partitions.max(1));
    let mut state = fnv1a(key.as_bytes());
    let (mut bucket, mut next) = (-1_i64, 0_i64);
    while next < buckets {
        bucket = next;
        state = state
            .wrapping_mul(2_862_933_555_777_941_757)
            .wrapping_add(1);
        // (bucket + 1) * 2^31 / ((state >> 33) + 1), in floating point as the paper does.
        let scale = (1_u64 << 31) as f64 / (((state >> 33) + 1) as f64);
        next = ((bucket + 1) as f64 * scale) as i64;
    }
    Partition::try_from(bucket).unwrap_or(0)
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The partitions worker `me` consumes when `members` (including `me`) are alive: members are
/// ordered by id and partition `p` goes to the `p mod n`-th, so each holds `partitions / n`
/// give or take one.
pub fn assign<M: Ord + Eq>(partitions: u16, members: &[M], me: &M) -> Vec<Partition> {
    let mut ordered: Vec<&M> = members.iter().collect();
    if !ordered.contains(&me) {
        ordered.push(me);
    }
    ordered.sort();
    ordered.dedup();
    let Some(index) = ordered.iter().position(|m| *m == me) else {
        return Vec::new();
    };
    (0..partitions)
        .filter(|p| usize::from(*p) % ordered.len() == index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_partition() {
        let key = "01a2164e-196f-7778-a431-230fa0e8e4eb:whatsapp:15550001111";
        let first = partition_of(key, 8);
        assert!(first < 8);
        for _ in 0..10 {
            assert_eq!(partition_of(key, 8), first);
        }
        // Fixed values: a change here breaks agreement between ingress builds.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(partition_of("tenant:sms:+15550001111", 1), 0);
        assert_eq!(partition_of("anything", 0), 0);
    }

    #[test]
    fn keys_spread_evenly() {
        let mut counts = [0_u32; 8];
        for i in 0..8000 {
            counts[usize::from(partition_of(&format!("t:sms:+1555{i:07}"), 8))] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn growing_the_count_moves_few_keys() {
        let keys: Vec<String> = (0..4000)
            .map(|i| format!("t:email:{i}@example.org"))
            .collect();
        let moved = keys
            .iter()
            .filter(|k| partition_of(k, 8) != partition_of(k, 9))
            .count();
        // About 1/9 of the keys move, all of them to the new partition.
        assert!(moved < 4000 / 9 + 150, "{moved}");
        for key in &keys {
            let (before, after) = (partition_of(key, 8), partition_of(key, 9));
            assert!(before == after || after == 8);
        }
    }

    #[test]
    fn partitions_are_spread_over_members_without_overlap() {
        let members = ["w-c", "w-a", "w-b"];
        let mut all: Vec<Partition> = members
            .iter()
            .flat_map(|m| assign(8, &members, m))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        assert_eq!(assign(8, &members, &"w-a"), [0, 3, 6]);
        // Alone (or not yet seen by anyone), a member takes everything.
        assert_eq!(assign(4, &[], &"w-z"), [0, 1, 2, 3]);
    }
}
