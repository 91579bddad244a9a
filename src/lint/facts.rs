//! The lint run's memory of the schema, in bounded space: a map from 64-bit keys to non-zero
//! 64-bit values that keeps its newest entries in memory and spills older ones to temporary
//! files as sorted runs (a small log-structured merge tree).
//!
//! A lint over a long migration history learns a few facts per migration (tables created,
//! columns added, constraints validated). Kept in memory they grew with the number of files;
//! here the memory is the in-memory table (at most [`MEMORY_ENTRIES`] entries), plus, per entry
//! on disk, a Bloom filter of 10 bits and a fence key per 256 entries: about 1.3 bytes.
//! Answers are exact: the filter only decides whether a run's file must be read.
//!
//! When no temporary file can be written, everything stays in memory (exact, but growing);
//! a read that fails later is reported through [`Facts::take_error`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{self, BufReader, BufWriter, Read, Write};

use super::context::IdentityHasher;

/// Entries kept in memory before they are written out as a run.
pub(super) const MEMORY_ENTRIES: usize = 4096;
/// Entries per block of a run: one fence key each, and what a lookup reads (4 KiB).
const BLOCK: usize = 256;
const ENTRY_BYTES: usize = 16;
/// The value that marks a removed key.
const REMOVED: u64 = 0;

/// A map from 64-bit keys (already hashes) to non-zero values, in bounded memory.
#[derive(Debug, Default)]
pub(super) struct Facts {
    memory: HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>,
    /// Runs on disk, oldest first; a newer run's entry wins over an older one's.
    runs: Vec<Run>,
    /// Spilling failed once (no temporary directory, disk full): keep everything in memory.
    in_memory_only: bool,
    /// The first read error, kept for [`Facts::take_error`] (reads take `&self`).
    error: RefCell<Option<io::Error>>,
}

impl Facts {
    /// The value stored for `key`, if any. A run that cannot be read answers "unknown" and
    /// leaves its error for [`Facts::take_error`].
    pub(super) fn get(&self, key: u64) -> Option<u64> {
        if let Some(&value) = self.memory.get(&key) {
            return (value != REMOVED).then_some(value);
        }
        for run in self.runs.iter().rev() {
            match run.get(key) {
                Ok(Some(value)) => return (value != REMOVED).then_some(value),
                Ok(None) => {}
                Err(error) => {
                    self.error.borrow_mut().get_or_insert(error);
                    return None;
                }
            }
        }
        None
    }

    /// Stores `value` for `key`; 0 marks removal inside the store, so it is stored as 1
    /// (values are hashes or packed facts that are never 0 in practice).
    pub(super) fn insert(&mut self, key: u64, value: u64) {
        self.put(key, value.max(1));
    }

    /// Forgets `key`.
    pub(super) fn remove(&mut self, key: u64) {
        if self.runs.is_empty() {
            self.memory.remove(&key);
        } else {
            self.put(key, REMOVED);
        }
    }

    /// An I/O error met while reading a run back, once (a failed write only keeps the facts
    /// in memory).
    pub(super) fn take_error(&mut self) -> Option<io::Error> {
        self.error.get_mut().take()
    }

    /// Entries in memory.
    #[cfg(test)]
    pub(super) fn in_memory(&self) -> usize {
        self.memory.len()
    }

    /// Runs on disk.
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }

    fn put(&mut self, key: u64, value: u64) {
        self.memory.insert(key, value);
        if self.memory.len() >= MEMORY_ENTRIES && !self.in_memory_only && self.spill().is_err() {
            // Exact answers matter more than memory: keep everything in memory from now on.
            // A failed write or merge leaves every fact where a lookup finds it.
            self.in_memory_only = true;
        }
    }

    /// Writes the in-memory entries out as a new run, then merges runs of similar size so
    /// that there are O(log n) of them.
    fn spill(&mut self) -> io::Result<()> {
        let mut entries: Vec<(u64, u64)> = self.memory.iter().map(|(&k, &v)| (k, v)).collect();
        entries.sort_unstable_by_key(|&(key, _)| key);
        let drop_removed = self.runs.is_empty();
        if drop_removed {
            entries.retain(|&(_, value)| value != REMOVED);
        }
        let run = Run::write(entries.into_iter())?;
        self.memory.clear();
        self.runs.push(run);
        while self.runs.len() >= 2 {
            let newer = &self.runs[self.runs.len() - 1];
            let older = &self.runs[self.runs.len() - 2];
            if newer.len * 2 < older.len {
                break;
            }
            let drop_removed = self.runs.len() == 2;
            let merged = Run::merge(older, newer, drop_removed)?;
            self.runs.truncate(self.runs.len() - 2);
            self.runs.push(merged);
        }
        Ok(())
    }
}

/// A sorted run of entries in a temporary file (deleted when dropped), with what finds an
/// entry without reading the file: a Bloom filter and the first key of every block.
#[derive(Debug)]
struct Run {
    file: File,
    len: usize,
    fences: Vec<u64>,
    bloom: Bloom,
}

impl Run {
    /// Writes `entries` (sorted by key, keys unique) to a new temporary file.
    fn write(entries: impl ExactSizeIterator<Item = (u64, u64)>) -> io::Result<Run> {
        let mut writer = RunWriter::new(entries.len())?;
        for (key, value) in entries {
            writer.push(key, value)?;
        }
        writer.finish()
    }

    /// One run with the entries of both; `newer`'s value wins for a key in both. Removed
    /// keys are dropped when the result is the oldest run (nothing older can hold them).
    fn merge(older: &Run, newer: &Run, drop_removed: bool) -> io::Result<Run> {
        let mut writer = RunWriter::new(older.len + newer.len)?;
        let mut old = RunReader::new(older)?;
        let mut new = RunReader::new(newer)?;
        let (mut a, mut b) = (old.next()?, new.next()?);
        loop {
            let (key, value) = match (a, b) {
                (None, None) => break,
                (Some(x), None) => {
                    a = old.next()?;
                    x
                }
                (None, Some(y)) => {
                    b = new.next()?;
                    y
                }
                (Some(x), Some(y)) => {
                    if x.0 < y.0 {
                        a = old.next()?;
                        x
                    } else if y.0 < x.0 {
                        b = new.next()?;
                        y
                    } else {
                        a = old.next()?;
                        b = new.next()?;
                        y
                    }
                }
            };
            if !(drop_removed && value == REMOVED) {
                writer.push(key, value)?;
            }
        }
        writer.finish()
    }

    fn get(&self, key: u64) -> io::Result<Option<u64>> {
        if self.len == 0 || !self.bloom.may_contain(key) {
            return Ok(None);
        }
        // The block whose first key is the last one <= key.
        let block = match self.fences.partition_point(|&fence| fence <= key) {
            0 => return Ok(None),
            after => after - 1,
        };
        let start = block * BLOCK;
        let count = BLOCK.min(self.len - start);
        let mut bytes = [0u8; BLOCK * ENTRY_BYTES];
        let bytes = &mut bytes[..count * ENTRY_BYTES];
        read_exact_at(&self.file, bytes, (start * ENTRY_BYTES) as u64)?;
        let entry = |i: usize| {
            let at = i * ENTRY_BYTES;
            let key = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
            let value = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
            (key, value)
        };
        let (mut low, mut high) = (0, count);
        while low < high {
            let mid = (low + high) / 2;
            let (found, value) = entry(mid);
            match found.cmp(&key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(Some(value)),
            }
        }
        Ok(None)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// Writes a run: entries in key order, 16 bytes each (key, value; little-endian).
struct RunWriter {
    out: BufWriter<File>,
    len: usize,
    fences: Vec<u64>,
    bloom: Bloom,
}

/// Buffer size of run files, read and written sequentially.
const IO_BUFFER: usize = 16 * 1024;

impl RunWriter {
    /// A writer for at most `capacity` entries (the filter is sized for them).
    fn new(capacity: usize) -> io::Result<RunWriter> {
        Ok(RunWriter {
            out: BufWriter::with_capacity(IO_BUFFER, tempfile::tempfile()?),
            len: 0,
            fences: Vec::with_capacity(capacity.div_ceil(BLOCK)),
            bloom: Bloom::with_capacity(capacity),
        })
    }

    fn push(&mut self, key: u64, value: u64) -> io::Result<()> {
        if self.len.is_multiple_of(BLOCK) {
            self.fences.push(key);
        }
        self.out.write_all(&key.to_le_bytes())?;
        self.out.write_all(&value.to_le_bytes())?;
        self.bloom.insert(key);
        self.len += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<Run> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(Run {
            file,
            len: self.len,
            fences: self.fences,
            bloom: self.bloom,
        })
    }
}

/// Reads a run's entries in order.
struct RunReader<'a> {
    input: BufReader<&'a File>,
    left: usize,
}

impl<'a> RunReader<'a> {
    fn new(run: &'a Run) -> io::Result<RunReader<'a>> {
        let mut file = &run.file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
        Ok(RunReader {
            input: BufReader::with_capacity(IO_BUFFER, file),
            left: run.len,
        })
    }

    fn next(&mut self) -> io::Result<Option<(u64, u64)>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut entry = [0u8; ENTRY_BYTES];
        self.input.read_exact(&mut entry)?;
        self.left -= 1;
        Ok(Some((
            u64::from_le_bytes(entry[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(entry[8..].try_into().expect("8 bytes")),
        )))
    }
}

/// A blocked Bloom filter over keys that are already uniform hashes: each key sets 7 bits
/// inside one 512-bit block (one cache line), 10 bits per key, about 1 % false positives.
#[derive(Debug)]
struct Bloom {
    blocks: Vec<[u64; 8]>,
}

impl Bloom {
    const PROBES: usize = 7;

    fn with_capacity(keys: usize) -> Bloom {
        let blocks = (keys * 10).div_ceil(512).max(1);
        Bloom {
            blocks: vec![[0; 8]; blocks],
        }
    }

    /// The block and the 7 bit positions (0..512) of a key.
    fn probes(&self, key: u64) -> (usize, [usize; Self::PROBES]) {
        // Spread the key again so that block choice and bit choice use independent bits.
        let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let block = ((u128::from(mixed) * self.blocks.len() as u128) >> 64) as usize;
        let mut positions = [0; Self::PROBES];
        for (i, position) in positions.iter_mut().enumerate() {
            *position = ((key >> (9 * i)) & 511) as usize;
        }
        (block, positions)
    }

    fn insert(&mut self, key: u64) {
        let (block, positions) = self.probes(key);
        let words = &mut self.blocks[block];
        for position in positions {
            words[position / 64] |= 1 << (position % 64);
        }
    }

    fn may_contain(&self, key: u64) -> bool {
        let (block, positions) = self.probes(key);
        let words = &self.blocks[block];
        positions
            .iter()
            .all(|&position| words[position / 64] & (1 << (position % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, well-spread keys.
    fn key(n: u64) -> u64 {
        let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    #[test]
    fn answers_stay_exact_after_spilling_and_merging() {
        let mut facts = Facts::default();
        let n = 50_000u64;
        for i in 0..n {
            facts.insert(key(i), i + 1);
        }
        assert!(facts.runs() >= 2, "spilled into several runs");
        assert!(facts.in_memory() < MEMORY_ENTRIES);
        // Overwrite some, remove some, across runs and memory.
        for i in (0..n).step_by(7) {
            facts.insert(key(i), 1_000_000 + i);
        }
        for i in (0..n).step_by(11) {
            facts.remove(key(i));
        }
        for i in 0..n {
            let expected = if i % 11 == 0 {
                None
            } else if i % 7 == 0 {
                Some(1_000_000 + i)
            } else {
                Some(i + 1)
            };
            assert_eq!(facts.get(key(i)), expected, "key {i}");
        }
        for i in n..n + 20_000 {
            assert_eq!(facts.get(key(i)), None, "absent key {i}");
        }
        assert!(facts.take_error().is_none());
        // O(log n) runs.
        assert!(facts.runs() <= 6, "{} runs", facts.runs());
    }

    #[test]
    fn removing_before_anything_spilled_forgets_in_memory() {
        let mut facts = Facts::default();
        facts.insert(1, 5);
        facts.remove(1);
        assert_eq!(facts.get(1), None);
        assert_eq!(facts.in_memory(), 0);
    }

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let mut bloom = Bloom::with_capacity(10_000);
        for i in 0..10_000 {
            bloom.insert(key(i));
        }
        assert!((0..10_000).all(|i| bloom.may_contain(key(i))));
        let false_positives = (10_000..110_000)
            .filter(|&i| bloom.may_contain(key(i)))
            .count();
        assert!(false_positives < 2_500, "{false_positives} of 100,000");
    }
}
