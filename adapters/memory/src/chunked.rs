//! [`ChunkedLog`]: a topic's kept messages in chunks of fixed size, so the log grows without
//! ever moving what it holds.
//!
//! Why: a `VecDeque` doubles its buffer when full and moves every element into the new one. A
//! topic of `chimera up` keeps a minute of messages (about 120,000 at 2,000 bars/s), so on the
//! way there a publish now and then copied megabytes into freshly faulted memory: the live
//! bench's timeline showed single polls of the feed of up to 4.9 ms, on the thread that also
//! runs the node and the gateway. Here a publish at most starts a new chunk (or reuses the one
//! the front last let go), and dropping from the front drops each message at once.

use std::collections::VecDeque;

/// Messages per chunk: a few tens of kilobytes each for the bus's messages.
const CHUNK: usize = 512;

/// A double-ended log indexed from its front, stored in chunks of [`CHUNK`] elements. Every
/// chunk but the first and the last is full; the first loses elements from its front, the
/// last gains them at its back.
pub(crate) struct ChunkedLog<T> {
    chunks: VecDeque<VecDeque<T>>,
    len: usize,
    /// The last chunk emptied, kept for the next one started.
    spare: Option<VecDeque<T>>,
}

impl<T> Default for ChunkedLog<T> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            spare: None,
        }
    }
}

impl<T> ChunkedLog<T> {
    /// How many elements it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value` at the back.
    pub(crate) fn push_back(&mut self, value: T) {
        if self.chunks.back().is_none_or(|last| last.len() == CHUNK) {
            let chunk = self
                .spare
                .take()
                .unwrap_or_else(|| VecDeque::with_capacity(CHUNK));
            self.chunks.push_back(chunk);
        }
        if let Some(last) = self.chunks.back_mut() {
            last.push_back(value);
            self.len += 1;
        }
    }

    /// Where element `index` is: its chunk and its place in it.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        let first = self.chunks.front()?.len();
        if index < first {
            return Some((0, index));
        }
        let rest = index - first;
        Some((1 + rest / CHUNK, rest % CHUNK))
    }

    /// Element `index` from the front.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        let (chunk, at) = self.locate(index)?;
        self.chunks.get(chunk)?.get(at)
    }

    /// Element `index` from the front, to change.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let (chunk, at) = self.locate(index)?;
        self.chunks.get_mut(chunk)?.get_mut(at)
    }

    /// The elements from the front, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// Drops the first `count` elements (all of them if it holds fewer).
    pub(crate) fn drop_front(&mut self, count: usize) {
        let mut left = count.min(self.len);
        self.len -= left;
        while left > 0 {
            let Some(first) = self.chunks.front_mut() else {
                return;
            };
            if first.len() <= left {
                left -= first.len();
                if let Some(mut emptied) = self.chunks.pop_front() {
                    emptied.clear();
                    self.spare = Some(emptied);
                }
            } else {
                first.drain(..left);
                left = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log agrees with a `VecDeque` given the same pushes and drops, across chunk edges.
    #[test]
    fn indexes_like_a_deque_across_chunks() {
        let mut log = ChunkedLog::default();
        let mut model = VecDeque::new();
        let mut next = 0_u64;
        for (push, drop) in [
            (1, 0),
            (CHUNK * 3 + 7, 5),
            (CHUNK, CHUNK + 2),
            (3, CHUNK * 2),
        ] {
            for _ in 0..push {
                log.push_back(next);
                model.push_back(next);
                next += 1;
            }
            log.drop_front(drop);
            model.drain(..drop.min(model.len()));
            assert_eq!(log.len(), model.len());
            for (i, expected) in model.iter().enumerate() {
                assert_eq!(log.get(i), Some(expected), "element {i}");
            }
            assert_eq!(log.get(model.len()), None);
            assert!(log.iter().eq(model.iter()));
        }
        if let Some(first) = log.get_mut(0) {
            *first = 99;
        }
        assert_eq!(log.get(0), Some(&99));
        log.drop_front(usize::MAX);
        assert_eq!(log.len(), 0);
        assert_eq!(log.get(0), None);
        log.push_back(1);
        assert_eq!(log.get(0), Some(&1));
    }

    /// A dropped element is dropped at once, not when its chunk empties.
    #[test]
    fn drops_each_element_at_once() {
        let kept = std::sync::Arc::new(());
        let mut log = ChunkedLog::default();
        for _ in 0..3 {
            log.push_back(std::sync::Arc::clone(&kept));
        }
        log.drop_front(2);
        assert_eq!(std::sync::Arc::strong_count(&kept), 2);
    }
}
