//! Per-person intermediate tables, kept on disk instead of in memory.
//!
//! A person stage holds a row per person × week × app × unit: a few per person when staff work
//! in one unit, up to one per event when they scatter (the adversarial 100M-event benchmark in
//! docs/benchmarks.md). Such a table is streamed, batch by batch, into an Arrow IPC file from
//! the session's disk manager (where its spills go) and read back from there, so a run needs the
//! memory pool's limit, not memory in proportion to persons × groups. The file is deleted when
//! the returned [`OnDisk`] is dropped.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::execution::SpillFile;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::PipelineError;

/// A table registered from a file on disk; the file lives as long as this value.
pub struct OnDisk {
    ctx: SessionContext,
    name: String,
    _file: Arc<dyn SpillFile>,
}

impl std::fmt::Debug for OnDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDisk").field("name", &self.name).finish()
    }
}

impl Drop for OnDisk {
    fn drop(&mut self) {
        // The table goes before its file does.
        let _ = self.ctx.deregister_table(self.name.as_str());
    }
}

/// Runs `df` and registers its result as table `name`, written to disk as it streams.
pub async fn on_disk(
    ctx: &SessionContext,
    name: &str,
    df: DataFrame,
) -> Result<OnDisk, PipelineError> {
    let file = ctx
        .runtime_env()
        .disk_manager
        .create_tmp_file(&format!("fingertip {name}"))?;
    let Some(path) = file.path().map(Path::to_path_buf) else {
        return Err(PipelineError::Io {
            path: Default::default(),
            message: "the session's spill store has no local files for the person stages".into(),
        });
    };
    let io = |e: std::io::Error| PipelineError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await?;
    let mut writer =
        FileWriter::try_new(BufWriter::new(File::create(&path).map_err(io)?), &schema)?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch?)?;
    }
    writer
        .into_inner()?
        .into_inner()
        .map_err(|e| io(e.into_error()))?;
    let options = ArrowReadOptions {
        file_extension: "",
        ..Default::default()
    };
    ctx.register_arrow(name, path.to_string_lossy(), options)
        .await?;
    Ok(OnDisk {
        ctx: ctx.clone(),
        name: name.to_string(),
        _file: file,
    })
}
