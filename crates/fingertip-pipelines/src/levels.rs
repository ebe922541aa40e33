//! Roll-up levels: a cell is (week, app_id, org_unit), where either key may be `*`.

use serde::{Deserialize, Serialize};

pub const ALL: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Per app and org unit.
    AppUnit,
    /// Per org unit, all apps (`app_id = *`).
    Unit,
    /// Per app, all org units (`org_unit = *`).
    App,
    /// All apps and org units.
    All,
}

impl Level {
    pub fn all() -> Vec<Level> {
        vec![Level::AppUnit, Level::Unit, Level::App, Level::All]
    }

    /// This level's share of a release's budget among `levels`: the levels an oversight body
    /// reads first — all apps × all units, and each app — weigh 3, per-unit levels 1, so the
    /// headline numbers get the narrower intervals. Fixed before any data is read; the shares
    /// add up to 1, so the levels compose back to the release's budget.
    pub fn share(self, levels: &[Level]) -> f64 {
        let weight = |l: Level| if l.keeps_unit() { 1.0 } else { 3.0 };
        weight(self) / levels.iter().map(|l| weight(*l)).sum::<f64>()
    }

    pub fn keeps_app(self) -> bool {
        matches!(self, Level::AppUnit | Level::App)
    }

    pub fn keeps_unit(self) -> bool {
        matches!(self, Level::AppUnit | Level::Unit)
    }

    /// The level of the active-worker cell that is a ratio's denominator here.
    pub fn denominator_level(self) -> Level {
        if self.keeps_unit() {
            Level::Unit
        } else {
            Level::All
        }
    }

    /// SQL for the app and unit keys of this level.
    pub fn key_sql(self, app: &str, unit: &str) -> (String, String) {
        let k = |keep: bool, col: &str| {
            if keep {
                col.to_string()
            } else {
                format!("'{ALL}'")
            }
        };
        (k(self.keeps_app(), app), k(self.keeps_unit(), unit))
    }
}

/// One published cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub week: String,
    pub app_id: String,
    pub org_unit: String,
}

impl Cell {
    /// The cell a published row is of.
    pub fn of(row: &fingertip_report::IndexRow) -> Self {
        Self {
            week: row.week.clone(),
            app_id: row.app_id.clone(),
            org_unit: row.org_unit.clone(),
        }
    }
}

impl Cell {
    pub fn level(&self) -> Level {
        match (self.app_id == ALL, self.org_unit == ALL) {
            (false, false) => Level::AppUnit,
            (true, false) => Level::Unit,
            (false, true) => Level::App,
            (true, true) => Level::All,
        }
    }

    /// The active-worker cell whose count is this cell's denominator.
    pub fn denominator_cell(&self) -> Cell {
        Cell {
            week: self.week.clone(),
            app_id: ALL.into(),
            org_unit: if self.level().keeps_unit() {
                self.org_unit.clone()
            } else {
                ALL.into()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_shares_add_up_to_one_and_favour_the_headline_levels() {
        let all = Level::all();
        let total: f64 = all.iter().map(|l| l.share(&all)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(Level::All.share(&all), 3.0 / 8.0);
        assert_eq!(Level::Unit.share(&all), 1.0 / 8.0);
        assert_eq!(Level::All.share(&[Level::All]), 1.0);
    }
}
