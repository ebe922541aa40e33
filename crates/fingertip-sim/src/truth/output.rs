//! Writing the true indices: CSV (`index,week,app_id,org_unit,value,numerator,denominator`)
//! and a JSON array of the same rows. Both stream row by row.

use std::io::Write;

use super::{IndexRow, Truth};
use crate::SimError;

impl Truth {
    /// Writes every row as CSV with a header line; returns the number of rows.
    pub fn write_csv<W: Write>(&self, out: W) -> Result<u64, SimError> {
        let err = SimError::io;
        let mut out = std::io::BufWriter::new(out);
        writeln!(
            out,
            "index,week,app_id,org_unit,value,numerator,denominator"
        )
        .map_err(err("truth CSV"))?;
        let mut n = 0;
        for r in self.rows() {
            let (app, unit) = (csv_field(&r.app_id), csv_field(&r.org_unit));
            let line = format!(
                "{},{},{app},{unit},{},{},{}",
                r.index.as_str(),
                r.week,
                r.value,
                r.numerator,
                r.denominator
            );
            writeln!(out, "{line}").map_err(err("truth CSV"))?;
            n += 1;
        }
        out.flush().map_err(err("truth CSV"))?;
        Ok(n)
    }

    /// Writes every row as one JSON array of objects; returns the number of rows.
    pub fn write_json<W: Write>(&self, out: W) -> Result<u64, SimError> {
        let err = SimError::io;
        let mut out = std::io::BufWriter::new(out);
        out.write_all(b"[").map_err(err("truth JSON"))?;
        let mut n = 0;
        for r in self.rows() {
            out.write_all(if n == 0 { b"\n" } else { b",\n" })
                .map_err(err("truth JSON"))?;
            serde_json::to_writer(&mut out, &r)?;
            n += 1;
        }
        out.write_all(b"\n]\n").map_err(err("truth JSON"))?;
        out.flush().map_err(err("truth JSON"))?;
        Ok(n)
    }

    /// Every row, collected.
    pub fn to_vec(&self) -> Vec<IndexRow> {
        self.rows().collect()
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
