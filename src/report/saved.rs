//! A saved JSON report read as a stream: the header (everything but the
//! flows) into memory, each flow handed on as it is parsed, so that
//! `tls-audit report` on a report of a million flows does not hold them
//! all (it re-read the whole document before: 1.24 GiB for 1M flows). The
//! bytes are hashed as they pass, for the audit trail's `rendered_from`.

use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::baseline::{MAX_REPORT_BYTES, SavedReportError};
use super::metadata::SourceReport;
use super::model::{FlowRecord, Report, SCHEMA};

/// Read a report written by `tls-audit ... -o json` (`-` is standard
/// input): its header, with `flows` empty, and the digest of its bytes;
/// `flow` receives each flow record in document order. Same checks and
/// errors as [`super::baseline::read_report`].
pub fn read_report_streamed(
    path: &Path,
    flow: &mut dyn FnMut(FlowRecord),
) -> Result<(Report, SourceReport), SavedReportError> {
    let name = path.display().to_string();
    let input: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|source| SavedReportError::Read {
            name: name.clone(),
            source,
        })?;
        Box::new(file)
    };
    // The parser reads a byte at a time: from a buffer it owns (std reads
    // single bytes from a `BufReader` without a call per byte), filled in
    // large reads that are hashed as they come.
    let digest = Rc::new(RefCell::new((
        ring::digest::Context::new(&ring::digest::SHA256),
        0u64,
    )));
    let buffered = std::io::BufReader::with_capacity(
        256 * 1024,
        Hashed {
            inner: input.take(MAX_REPORT_BYTES),
            digest: Rc::clone(&digest),
        },
    );
    let mut de = serde_json::Deserializer::from_reader(buffered);
    let parsed = Document { flow }
        .deserialize(&mut de)
        .and_then(|header| de.end().map(|()| header));
    let not_a_report = |source: serde_json::Error| {
        if source.is_io() {
            SavedReportError::Read {
                name: name.clone(),
                source: source.into(),
            }
        } else {
            SavedReportError::NotAReport {
                name: name.clone(),
                source,
            }
        }
    };
    let header = parsed.map_err(not_a_report)?;
    let report: Report = serde_json::from_value(Value::Object(header)).map_err(not_a_report)?;
    if report.schema != SCHEMA {
        return Err(SavedReportError::Schema {
            name,
            schema: report.schema,
        });
    }
    drop(de);
    let (context, bytes) = digest.replace((ring::digest::Context::new(&ring::digest::SHA256), 0));
    let sha256 = context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let source = SourceReport {
        name,
        sha256,
        bytes,
    };
    Ok((report, source))
}

/// The bytes read, hashed and counted on the way.
struct Hashed<R> {
    inner: R,
    digest: Rc<RefCell<(ring::digest::Context, u64)>>,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        let got = out.get(..n).unwrap_or_default();
        let mut d = self.digest.borrow_mut();
        d.0.update(got);
        d.1 += n as u64;
        Ok(n)
    }
}

/// The top-level object: every member but `flows` kept as JSON (with
/// `flows` empty), `flows` streamed to the callback.
struct Document<'f> {
    flow: &'f mut dyn FnMut(FlowRecord),
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tls-audit JSON report (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut header = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "flows" {
                map.next_value_seed(Flows {
                    flow: &mut *self.flow,
                })?;
                header.insert(key, Value::Array(Vec::new()));
            } else {
                let value: Value = map.next_value()?;
                header.insert(key, value);
            }
        }
        Ok(header)
    }
}

/// The `flows` array, one record at a time.
struct Flows<'f> {
    flow: &'f mut dyn FnMut(FlowRecord),
}

impl<'de> DeserializeSeed<'de> for Flows<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Flows<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The words serde uses for a Vec, so errors read as before.
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<FlowRecord>()? {
            (self.flow)(record);
        }
        Ok(())
    }
}
