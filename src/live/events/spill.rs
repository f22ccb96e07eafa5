//! The flow records of an event stream being replayed, kept in an unlinked
//! temporary file rather than in memory: 200,000 mutual-TLS flows held
//! 666 MiB as records (benches/README.md); here each flow costs one index entry (its key, an
//! offset and a length) while the record waits on disk. The report's JSON
//! leaves certificates' DER out, so each verified DER the stream carried is
//! written once beside the records (indexed by its SHA-256) and put back
//! into the chains when a record is read (parsed through the bounded
//! certificate cache): a record read back is the record as restored.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::engine::certs::CertCache;
use crate::report::model::FlowRecord;

/// (run, flow id): ids start again at 1 in each run of the agent.
pub(super) type Key = (u32, u64);

/// Where some bytes lie in the file.
type Place = (u64, u32);

/// The file and what reading it back needs: where each certificate's DER
/// lies (by SHA-256, hex) and the parsed-certificate cache.
struct Store {
    file: File,
    ders: HashMap<String, Place>,
    parsed: CertCache,
}

impl Store {
    fn bytes(&self, (at, len): Place) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len as usize];
        self.file.read_exact_at(&mut buf, at)?;
        Ok(buf)
    }

    /// A record, with each chain certificate's DER (and what is parsed
    /// from it) put back.
    fn record(&mut self, place: Place) -> io::Result<FlowRecord> {
        let mut record: FlowRecord =
            serde_json::from_slice(&self.bytes(place)?).map_err(io::Error::other)?;
        let Some(t) = record.tls.as_deref_mut() else {
            return Ok(record);
        };
        for chain in [&mut t.server_chain, &mut t.client_chain] {
            for c in chain.iter_mut() {
                if let Some(place) = self.ders.get(&c.sha256) {
                    let der = self.bytes(*place)?;
                    *c = Arc::clone(&self.parsed.get(&der));
                }
            }
        }
        Ok(record)
    }
}

/// The flows of one stream as they are read: those finished (`flow`
/// events) and those whose handshake alone was seen so far. A record
/// written again under the same key replaces the earlier one (whose bytes
/// stay in the file, unreferenced).
pub(super) struct Table {
    writer: BufWriter<File>,
    offset: u64,
    store: Store,
    closed: BTreeMap<Key, Place>,
    open: BTreeMap<Key, Place>,
}

impl Table {
    pub(super) fn new() -> io::Result<Self> {
        let file = crate::engine::unlinked_temp_file()?;
        Ok(Table {
            store: Store {
                file: file.try_clone()?,
                ders: HashMap::new(),
                parsed: CertCache::default(),
            },
            writer: BufWriter::with_capacity(256 * 1024, file),
            offset: 0,
            closed: BTreeMap::new(),
            open: BTreeMap::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<Place> {
        let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
        self.writer.write_all(bytes)?;
        let at = self.offset;
        self.offset += u64::from(len);
        Ok((at, len))
    }

    fn put(&mut self, record: &FlowRecord) -> io::Result<Place> {
        let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
        self.write(&bytes)
    }

    /// Read a record back (what is still buffered is written first).
    fn get(&mut self, place: Place) -> io::Result<FlowRecord> {
        self.writer.flush()?;
        self.store.record(place)
    }

    /// A certificate's DER, verified against its digest (kept once).
    pub(super) fn der(&mut self, sha256: &str, der: &[u8]) -> io::Result<()> {
        if !self.store.ders.contains_key(sha256) {
            let place = self.write(der)?;
            self.store.ders.insert(sha256.to_string(), place);
        }
        Ok(())
    }

    /// A flow finished: its final record.
    pub(super) fn close(&mut self, key: Key, record: &FlowRecord) -> io::Result<()> {
        self.open.remove(&key);
        let place = self.put(record)?;
        self.closed.insert(key, place);
        Ok(())
    }

    /// A flow's handshake was decided: its record as it stood then.
    pub(super) fn opened(&mut self, key: Key, record: &FlowRecord) -> io::Result<()> {
        let place = self.put(record)?;
        self.open.insert(key, place);
        Ok(())
    }

    /// The stream ended: flows whose end was not seen are finished as
    /// their handshake records, changed by `end`; how many there were.
    pub(super) fn end_open(&mut self, end: impl Fn(&mut FlowRecord)) -> io::Result<usize> {
        let open = std::mem::take(&mut self.open);
        let n = open.len();
        for (key, place) in open {
            let mut record = self.get(place)?;
            end(&mut record);
            let place = self.put(&record)?;
            self.closed.insert(key, place);
        }
        Ok(n)
    }

    /// Visit the finished flows of one run, in creation order.
    pub(super) fn each_of_run(
        &mut self,
        run: u32,
        mut f: impl FnMut(&FlowRecord),
    ) -> io::Result<()> {
        let places: Vec<Place> = self
            .closed
            .range((run, 0)..=(run, u64::MAX))
            .map(|(_, p)| *p)
            .collect();
        for place in places {
            f(&self.get(place)?);
        }
        Ok(())
    }

    /// Done: every finished flow, in creation order.
    pub(super) fn finish(mut self) -> io::Result<Flows> {
        self.writer.flush()?;
        Ok(Flows {
            index: self.closed.into_values().collect(),
            store: self.store,
        })
    }
}

/// The flow records of a replayed stream, on disk, in the order the agent
/// created them (run by run).
pub struct Flows {
    index: Vec<Place>,
    store: Store,
}

impl Flows {
    /// How many flows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The records one at a time, read back from the file.
    pub fn iter(&mut self) -> impl Iterator<Item = io::Result<FlowRecord>> + '_ {
        let Flows { index, store } = self;
        index.iter().map(move |p| store.record(*p))
    }

    /// Every record in memory at once (tests and small streams).
    pub fn to_vec(&mut self) -> io::Result<Vec<FlowRecord>> {
        self.iter().collect()
    }
}
