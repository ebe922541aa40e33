//! Test-only (`test-util`): many draws of one query's release, for the empirical privacy
//! audit (`tests/tests/dp/accuracy/audit.rs`). The query is accepted, planned and run to its
//! exact release-stage values once, exactly as [`Engine::run`] does; then its noise is drawn
//! `n` times by the same `release::apply`. Nothing is charged: this never serves a request.

use fingertip_dp::Noise;

use crate::engine::{Engine, QueryRequest};
use crate::error::QueryError;
use crate::{output, release};

/// One released group of one draw: its keys (as text), its noisy person count, the noisy
/// quantities the mechanisms released (e.g. an average's sum and count), and the value of
/// every measure (before HAVING/ORDER BY/LIMIT, which only post-process these).
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnGroup {
    pub keys: Vec<String>,
    pub persons: i64,
    pub quantities: Vec<f64>,
    pub values: Vec<Option<f64>>,
}

impl Engine {
    /// Uses `noise` for every release (e.g. [`Noise::HalfScale`] to check that the audit
    /// catches an under-noised mechanism).
    pub fn with_noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }

    /// `n` independent draws of `request`'s release. Bounds the request does not give are
    /// estimated once, with noise, and then held fixed.
    pub async fn release_samples(
        &self,
        request: &QueryRequest,
        n: usize,
    ) -> Result<Vec<Vec<DrawnGroup>>, QueryError> {
        let p = self.prepare(request).await?;
        let run = p.run(self, request.epsilon);
        let e = run.exact(&request.bounds, &p.ranges, &p.needs).await?;
        (0..n)
            .map(|_| {
                let noisy = release::apply(&e.exact, &p.quantities.list, &e.params)?;
                let released = output::released_rows(&noisy, &p.analyzed, &p.quantities, &p.ranges);
                Ok(noisy
                    .groups
                    .iter()
                    .zip(released.rows.values)
                    .map(|(g, values)| DrawnGroup {
                        keys: g.keys.iter().map(ToString::to_string).collect(),
                        persons: g.persons,
                        quantities: g.quantities.clone(),
                        values,
                    })
                    .collect())
            })
            .collect()
    }
}
