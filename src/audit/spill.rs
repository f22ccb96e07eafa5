//! Where a verified report's flows go: the spill file (report order, flat
//! memory), with what the report's header gathers from every flow (the
//! metadata's pods, the crypto inventory) taken from each record as it is
//! spilled, instead of from a second pass that reads and parses the spill
//! file back; and, when the report is written as a table, the table too
//! (its column widths, and each flow's cells in a spill file of their own).
//! The inventory is fed in the order flows finish; when its bounds make it
//! depend on that order, publishing builds it again in report order
//! (`Publish::publish`).

use crate::engine::{Behind, FlowSink, SpillSink, Spilled};
use crate::model::report::FlowRecord;
use crate::report::inventory::InventoryBuilder;
use crate::report::metadata::MetadataBuilder;
use crate::report::{ColumnWidths, TableWriter};

use super::AuditError;

/// Spills each finished (verified) flow and gathers from it. The spill
/// file may be written on a thread of its own (`P` a [`Behind`]), the
/// gathering staying on the calling thread.
pub struct GatheringSpill<P = SpillSink> {
    spill: P,
    meta: MetadataBuilder,
    inventory: InventoryBuilder,
    /// Threads that parse the spilled records when they are read back
    /// ([`Spilled::parsed_by`]).
    parse_helpers: usize,
    /// The table's cells, when the report is written as a table.
    table: Option<TableSpill>,
}

/// A table made as flows are spilled: the widest cell of each column (a
/// maximum, so the order flows come in does not matter) and each flow's
/// cells, spilled to a file of their own, so that writing the table needs
/// neither a pass to measure it nor the records parsed back.
struct TableSpill {
    widths: ColumnWidths,
    cells: SpillSink,
    scratch: Vec<u8>,
}

impl TableSpill {
    /// Measure one flow's cells and spill them.
    fn add(&mut self, id: u64, record: &FlowRecord) {
        self.scratch.clear();
        self.widths.measure_into(record, &mut self.scratch);
        self.cells.bytes(id, &self.scratch);
    }
}

/// A table ready to be written: its column widths, and each flow's cells
/// in report order ([`TableWriter::row_of_cells`]).
pub struct TableCells {
    /// The widest cell of each column, over every flow.
    pub widths: ColumnWidths,
    /// Each flow's cells ([`ColumnWidths::measure_into`]), in report order.
    pub rows: Spilled,
}

impl TableCells {
    /// Each flow's line, in report order, as `writer` (made with
    /// [`TableWriter::measured`] from `widths`) writes it from the cells.
    /// Cells that do not read back exactly are an error.
    pub fn for_each_line(
        &self,
        writer: &TableWriter,
        mut f: impl FnMut(String) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.rows.for_each_bytes(|row| {
            let line = writer
                .row_of_cells(row)
                .ok_or_else(|| std::io::Error::other("a spilled table row does not read back"))?;
            f(line)
        })
    }
}

impl GatheringSpill {
    /// A new spill file (unlinked at once).
    pub fn new() -> Result<Self, AuditError> {
        Ok(GatheringSpill {
            spill: SpillSink::new().map_err(AuditError::temp_create)?,
            meta: MetadataBuilder::default(),
            inventory: InventoryBuilder::default(),
            parse_helpers: 0,
            table: None,
        })
    }

    /// The run uses `threads` threads: with more than one, records read
    /// back from the spill file are parsed on that many threads of their
    /// own ([`Spilled::parsed_by`]); with one, on the reading thread.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.parse_helpers = if threads > 1 { threads } else { 0 };
        self
    }

    /// Finish writing: the flows, readable in report order, and what was
    /// gathered from them.
    pub fn finish(self) -> Result<Gathered, AuditError> {
        Ok(Gathered {
            flows: self
                .spill
                .into_spilled()
                .map_err(AuditError::temp_write)?
                .parsed_by(self.parse_helpers),
            meta: self.meta,
            inventory: self.inventory,
            table: match self.table {
                Some(t) => Some(TableCells {
                    widths: t.widths,
                    rows: t.cells.into_spilled().map_err(AuditError::temp_write)?,
                }),
                None => None,
            },
        })
    }
}

impl GatheringSpill<Behind<SpillSink>> {
    /// A new spill file, written on a thread of its own when `thread` (see
    /// [`Behind::new`]); the metadata and inventory are gathered on the
    /// calling thread. Writing records' JSON is most of what becomes of a
    /// verified flow: with the gathering on the same thread, that thread
    /// held up the end of a capture while the verifying one waited.
    pub fn behind(thread: bool) -> Result<Self, AuditError> {
        let GatheringSpill {
            spill,
            meta,
            inventory,
            parse_helpers,
            table,
        } = GatheringSpill::new()?;
        Ok(GatheringSpill {
            spill: Behind::new(spill, thread),
            meta,
            inventory,
            parse_helpers,
            table,
        })
    }

    /// Every record written; the spill back on this thread.
    pub fn join(self) -> GatheringSpill {
        GatheringSpill {
            spill: self.spill.join(),
            meta: self.meta,
            inventory: self.inventory,
            parse_helpers: self.parse_helpers,
            table: self.table,
        }
    }
}

impl<P> GatheringSpill<P> {
    /// When `table`, make the table from each record as it is spilled: its
    /// column widths, and each flow's cells in a spill file of their own.
    pub fn measuring(mut self, table: bool) -> Result<Self, AuditError> {
        if table {
            self.table = Some(TableSpill {
                widths: ColumnWidths::default(),
                cells: SpillSink::new().map_err(AuditError::temp_create)?,
                scratch: Vec::new(),
            });
        }
        Ok(self)
    }
}

impl<P: FlowSink> FlowSink for GatheringSpill<P> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        self.meta.flow(&record);
        self.inventory.flow(&record);
        if let Some(t) = &mut self.table {
            t.add(id, &record);
        }
        self.spill.flow(id, record);
    }
}

/// Spilled flows and what was gathered from them as they were spilled.
pub struct Gathered {
    /// The flows, in report order.
    pub(super) flows: Spilled,
    /// The metadata's pods (a set: the order flows came in does not matter).
    pub(super) meta: MetadataBuilder,
    /// The inventory, fed in the order flows finished: the report's unless
    /// [`InventoryBuilder::order_sensitive`].
    pub(super) inventory: InventoryBuilder,
    /// The table, when made as the flows were spilled.
    pub(super) table: Option<TableCells>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::report::Report;
    use crate::report::inventory::{CryptoInventory, MAX_PLACES, tests::tls_flow};

    /// A table made as flows finish, in another order than the report's:
    /// the same lines, in report order, as the writer makes from the
    /// records in two passes; none made when not asked for.
    #[test]
    fn table_made_as_flows_finish_is_the_report_orders() {
        use crate::report::TableStyle;
        let flows: Vec<FlowRecord> = (0..300u32)
            .map(|i| {
                let server = format!("10.0.{}.{}", i % 7, i % 250);
                let subject = format!("CN={}", "s".repeat((i % 40) as usize));
                tls_flow(i % 60, "10.0.0.1", &server, "aa", &subject)
            })
            .collect();
        let mut spill = GatheringSpill::new().unwrap().measuring(true).unwrap();
        for (i, f) in flows.iter().enumerate().rev() {
            spill.flow(i as u64 + 1, f.clone());
        }
        let cells = spill.finish().unwrap().table.expect("a table");
        for wide in [false, true] {
            let style = TableStyle {
                wide,
                color: false,
                width: None,
            };
            let mut two_pass = TableWriter::new(style);
            flows.iter().for_each(|f| two_pass.measure(f));
            let mut made = TableWriter::measured(style, &cells.widths);
            assert_eq!(made.header(), two_pass.header());
            let mut lines = Vec::new();
            cells
                .for_each_line(&made, |line| {
                    lines.push(line);
                    Ok(())
                })
                .unwrap();
            let want: Vec<String> = flows.iter().map(|f| two_pass.row(f)).collect();
            assert_eq!(lines, want, "wide {wide}");
        }
        let plain = GatheringSpill::new().unwrap().measuring(false).unwrap();
        assert!(plain.finish().unwrap().table.is_none());
    }

    /// Flows that finish in another order than the report's, enough of
    /// them to fill a configuration's list of endpoints: the published
    /// inventory is the one report order gives, as when it was built from
    /// the spill file; below the bounds it is gathered as flows finish.
    #[test]
    fn published_inventory_is_the_report_orders() {
        for servers in [4, MAX_PLACES as u32 + 8] {
            let flows: Vec<FlowRecord> = (0..servers * 2)
                .map(|i| {
                    let server = format!("10.0.2.{}", i % servers);
                    tls_flow(i % 60, "10.0.0.1", &server, "aa", "CN=a")
                })
                .collect();
            let mut spill = GatheringSpill::new().unwrap();
            // Finished from last to first.
            for (i, f) in flows.iter().enumerate().rev() {
                spill.flow(i as u64 + 1, f.clone());
            }
            let gathered = spill.finish().unwrap();
            assert_eq!(gathered.inventory.order_sensitive(), servers > 4);
            let audited = super::super::Publish::default()
                .publish(Report::empty(), gathered, false)
                .unwrap();
            let want = CryptoInventory::of_flows(&flows);
            assert_eq!(audited.report.inventory, Some(want), "{servers} servers");
        }
    }
}
