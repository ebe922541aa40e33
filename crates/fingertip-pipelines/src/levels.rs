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
