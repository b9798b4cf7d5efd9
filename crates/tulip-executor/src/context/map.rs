//! The persistent map behind a [`Context`](super::Context): variable id →
//! value, where a copy is one reference-count increment and a `set` copies
//! only the path to the changed entry (CPython's contexts use a HAMT for the
//! same reason).
//!
//! It is a bitmap-indexed radix trie keyed by the variable's id: each node
//! has up to 32 slots, chosen by five bits of the id (low bits first), and
//! stores only the occupied ones, found through a 32-bit bitmap and a
//! population count. Ids are unique and handed out in sequence, so the
//! first 32 variables of a program fit in the root and two ids always part
//! within 13 levels: unlike a hash trie, no two keys ever collide, and no
//! hashing is needed. Nodes are shared through `Arc` (values must reach
//! the thread pool), and a removal that leaves a node with one leaf pulls
//! that leaf up, so the trie stays as shallow as its contents.
//!
//! The empty map is `None`: a context nobody ever set a variable in costs
//! nothing to copy, enter or drop.

use std::any::Any;
use std::sync::Arc;

/// A stored value, type-erased: its [`ContextVar`](super::ContextVar)
/// downcasts it back.
pub(crate) type Value = Arc<dyn Any + Send + Sync>;

/// Bits of the id consumed per level.
const BITS: u32 = 5;
const MASK: u64 = (1 << BITS) - 1;

#[derive(Clone)]
pub(crate) struct Leaf {
    pub(crate) key: u64,
    pub(crate) name: &'static str,
    pub(crate) value: Value,
}

#[derive(Clone)]
enum Slot {
    Leaf(Leaf),
    Node(Arc<Node>),
}

/// A trie node: the occupied slots in bit order.
#[derive(Clone, Default)]
struct Node {
    bitmap: u32,
    slots: Vec<Slot>,
}

/// The root: the node and the number of entries under it.
#[derive(Clone, Default)]
struct Root {
    len: usize,
    node: Node,
}

/// A persistent map from variable ids to values. `Clone` is O(1).
#[derive(Clone, Default)]
pub(crate) struct Map {
    root: Option<Arc<Root>>,
}

/// The bit of `key` at the level that consumes bits from `shift`.
fn bit_of(key: u64, shift: u32) -> u32 {
    1 << ((key >> shift) & MASK)
}

impl Node {
    /// The index in `slots` of the slot for `bit`.
    fn pos(&self, bit: u32) -> usize {
        (self.bitmap & (bit - 1)).count_ones() as usize
    }

    fn get(&self, key: u64) -> Option<&Leaf> {
        let mut node = self;
        let mut shift = 0;
        loop {
            let bit = bit_of(key, shift);
            if node.bitmap & bit == 0 {
                return None;
            }
            match &node.slots[node.pos(bit)] {
                Slot::Leaf(leaf) => return (leaf.key == key).then_some(leaf),
                Slot::Node(sub) => {
                    node = sub;
                    shift += BITS;
                }
            }
        }
    }

    /// A node holding two leaves of different keys, at the level of `shift`.
    fn pair(a: Leaf, b: Leaf, shift: u32) -> Node {
        let (ba, bb) = (bit_of(a.key, shift), bit_of(b.key, shift));
        if ba == bb {
            Node {
                bitmap: ba,
                slots: vec![Slot::Node(Arc::new(Node::pair(a, b, shift + BITS)))],
            }
        } else {
            let slots = if ba < bb {
                vec![Slot::Leaf(a), Slot::Leaf(b)]
            } else {
                vec![Slot::Leaf(b), Slot::Leaf(a)]
            };
            Node {
                bitmap: ba | bb,
                slots,
            }
        }
    }

    /// A copy of this node with `leaf` stored, and the value it replaced.
    fn insert(&self, leaf: Leaf, shift: u32) -> (Node, Option<Value>) {
        let bit = bit_of(leaf.key, shift);
        let pos = self.pos(bit);
        let mut node = self.clone();
        if self.bitmap & bit == 0 {
            node.bitmap |= bit;
            node.slots.insert(pos, Slot::Leaf(leaf));
            return (node, None);
        }
        let (slot, old) = match &self.slots[pos] {
            Slot::Leaf(here) if here.key == leaf.key => {
                let old = here.value.clone();
                (Slot::Leaf(leaf), Some(old))
            }
            Slot::Leaf(here) => (
                Slot::Node(Arc::new(Node::pair(here.clone(), leaf, shift + BITS))),
                None,
            ),
            Slot::Node(sub) => {
                let (sub, old) = sub.insert(leaf, shift + BITS);
                (Slot::Node(Arc::new(sub)), old)
            }
        };
        node.slots[pos] = slot;
        (node, old)
    }

    /// A copy of this node without `key`, and its value; `None` if absent.
    fn remove(&self, key: u64, shift: u32) -> Option<(Node, Value)> {
        let bit = bit_of(key, shift);
        if self.bitmap & bit == 0 {
            return None;
        }
        let pos = self.pos(bit);
        let mut node = self.clone();
        match &self.slots[pos] {
            Slot::Leaf(here) if here.key == key => {
                node.bitmap &= !bit;
                node.slots.remove(pos);
                Some((node, here.value.clone()))
            }
            Slot::Leaf(_) => None,
            Slot::Node(sub) => {
                let (sub, old) = sub.remove(key, shift + BITS)?;
                match sub.slots.as_slice() {
                    // One leaf left below: pull it up to this level.
                    [Slot::Leaf(only)] => node.slots[pos] = Slot::Leaf(only.clone()),
                    [] => {
                        node.bitmap &= !bit;
                        node.slots.remove(pos);
                    }
                    _ => node.slots[pos] = Slot::Node(Arc::new(sub)),
                }
                Some((node, old))
            }
        }
    }
}

impl Map {
    /// The empty map (no allocation).
    pub(crate) const EMPTY: Map = Map { root: None };

    pub(crate) fn len(&self) -> usize {
        self.root.as_ref().map_or(0, |r| r.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, key: u64) -> Option<&Leaf> {
        self.root.as_ref()?.node.get(key)
    }

    /// Stores `value` for `key`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: u64, name: &'static str, value: Value) -> Option<Value> {
        let leaf = Leaf { key, name, value };
        let (node, old, len) = match &self.root {
            None => (Node::default().insert(leaf, 0).0, None, 1),
            Some(root) => {
                let (node, old) = root.node.insert(leaf, 0);
                let len = root.len + usize::from(old.is_none());
                (node, old, len)
            }
        };
        self.root = Some(Arc::new(Root { len, node }));
        old
    }

    /// Removes `key`; returns its value.
    pub(crate) fn remove(&mut self, key: u64) -> Option<Value> {
        let root = self.root.as_ref()?;
        let (node, old) = root.node.remove(key, 0)?;
        let len = root.len - 1;
        self.root = Some(Arc::new(Root { len, node }));
        Some(old)
    }

    /// The entries (in the trie's order, not the ids').
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            stack: self
                .root
                .as_ref()
                .map(|r| vec![r.node.slots.iter()])
                .unwrap_or_default(),
        }
    }
}

/// The entries of a [`Map`], depth first.
pub(crate) struct Iter<'a> {
    stack: Vec<std::slice::Iter<'a, Slot>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Leaf;

    fn next(&mut self) -> Option<&'a Leaf> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Slot::Leaf(leaf)) => return Some(leaf),
                Some(Slot::Node(sub)) => self.stack.push(sub.slots.iter()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(n: u64) -> Value {
        Arc::new(n)
    }

    fn read(map: &Map, key: u64) -> Option<u64> {
        map.get(key)
            .map(|l| *l.value.downcast_ref::<u64>().expect("a u64"))
    }

    /// Keys chosen to share long prefixes of low bits (deep paths), next to
    /// dense small ones.
    fn keys() -> Vec<u64> {
        let mut keys: Vec<u64> = (1..100).collect();
        for level in 1..13 {
            keys.push(7 | (1 << (5 * level)));
            keys.push(7 | (3 << (5 * level)));
        }
        keys.push(u64::MAX);
        keys.push(7 | (1 << 63));
        // Distinct, in an order unlike the trie's.
        keys.sort_unstable_by_key(|k| k.reverse_bits());
        keys.dedup();
        keys
    }

    #[test]
    fn insert_get_remove_against_a_model() {
        let keys = keys();
        let mut map = Map::EMPTY;
        let mut model = std::collections::BTreeMap::new();
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(
                map.insert(k, "v", value(i as u64)).is_some(),
                model.insert(k, i as u64).is_some()
            );
            assert_eq!(map.len(), model.len());
        }
        // Replace every third, then check every key.
        for &k in keys.iter().step_by(3) {
            let old = map.insert(k, "v", value(k.wrapping_mul(10)));
            assert_eq!(
                old.map(|v| *v.downcast_ref::<u64>().unwrap()),
                model.insert(k, k.wrapping_mul(10))
            );
        }
        for &k in &keys {
            assert_eq!(read(&map, k), model.get(&k).copied(), "key {k:#x}");
        }
        assert_eq!(read(&map, 12345), None);
        let listed: Vec<u64> = {
            let mut v: Vec<u64> = map.iter().map(|l| l.key).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(listed, model.keys().copied().collect::<Vec<_>>());

        // Remove half, in an order unlike insertion, with snapshots kept.
        let snapshot = map.clone();
        for &k in keys.iter().rev().step_by(2) {
            assert!(map.remove(k).is_some());
            model.remove(&k);
            assert!(map.remove(k).is_none(), "removed twice");
            assert_eq!(map.len(), model.len());
        }
        for &k in &keys {
            assert_eq!(read(&map, k), model.get(&k).copied(), "key {k:#x}");
        }
        // The snapshot did not change.
        assert_eq!(snapshot.len(), keys.len());
        assert!(keys.iter().all(|&k| snapshot.get(k).is_some()));

        for &k in &keys {
            map.remove(k);
        }
        assert!(map.is_empty());
        assert_eq!(map.iter().count(), 0);
    }

    #[test]
    fn removal_pulls_a_lone_leaf_up() {
        let mut map = Map::EMPTY;
        // Same low five bits: the second goes one level down.
        map.insert(1, "a", value(1));
        map.insert(33, "b", value(2));
        map.remove(1);
        let root = map.root.as_ref().unwrap();
        assert!(matches!(root.node.slots.as_slice(), [Slot::Leaf(l)] if l.key == 33));
        assert_eq!(read(&map, 33), Some(2));
    }
}
