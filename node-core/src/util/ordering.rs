//! Sorting by a `u64` key through one shared routine.
//!
//! Every `sort_by_key` call is compiled anew for its element type, and in the browser each
//! copy of the standard library's stable sort costs several kilobytes of wasm. Sorting the
//! keys instead — always the same `(u64, usize)` pairs — keeps one copy for the whole node.

use alloc::vec::Vec;

/// The positions of `keys` in ascending key order; equal keys keep their original order.
pub fn ascending(keys: impl Iterator<Item = u64>) -> Vec<usize> {
    let mut pairs: Vec<(u64, usize)> = keys.enumerate().map(|(i, k)| (k, i)).collect();
    // Ties are broken by position, so the unstable sort gives the stable order.
    pairs.sort_unstable();
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// `items` reordered by ascending `key`, keeping the original order of equal keys.
pub fn sorted_by_key<T>(items: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    let order = ascending(items.iter().map(&key));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn ascending_is_stable() {
        assert_eq!(ascending([3, 1, 3, 0, 1].into_iter()), vec![3, 1, 4, 0, 2]);
    }

    #[test]
    fn sorted_by_key_matches_the_standard_stable_sort() {
        let items: Vec<(u64, char)> = vec![(5, 'a'), (2, 'b'), (5, 'c'), (0, 'd'), (2, 'e')];
        let mut expected = items.clone();
        expected.sort_by_key(|p| p.0);
        assert_eq!(sorted_by_key(items, |p| p.0), expected);
    }
}
