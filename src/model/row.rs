//! The row a mapped entity becomes, kept compactly: a large save holds every row at once.

/// A mapped row: one text value (or NULL) per data column of the table, then the four
/// provenance values `source_type`, `source_system`, `skill_used`, `generation_seed`.
/// `scenario_id` and `created_at` are added by the DB layer.
///
/// Stored compactly (a save of 100,000 entities holds 100,000 rows at once): the values
/// one after another in one string, and per column where its value ends, which for a
/// row of 40 mostly empty columns takes ~200 bytes instead of ~1.3 KB of separate strings.
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalRow {
    text: String,
    /// Per column: the end of its value in `text`, with `NULL` set when it has none (its
    /// end is then the previous column's).
    ends: Box<[u32]>,
    /// Problems with optional fields (stored as NULL); reported as warnings.
    pub notes: Vec<String>,
}

impl CanonicalRow {
    const NULL: u32 = 1 << 31;

    pub fn new(values: impl IntoIterator<Item = Option<String>>, notes: Vec<String>) -> CanonicalRow {
        let mut text = String::new();
        let ends = values
            .into_iter()
            .map(|value| {
                let present = value.is_some();
                text.push_str(value.as_deref().unwrap_or(""));
                let end = u32::try_from(text.len()).ok().filter(|end| end & Self::NULL == 0);
                let end = end.expect("a canonical row is far smaller than 2 GiB (requests are bounded)");
                if present { end } else { end | Self::NULL }
            })
            .collect();
        text.shrink_to_fit();
        CanonicalRow { text, ends, notes }
    }

    /// The value of column `index` (data columns, then provenance), `None` for NULL.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = self.ends[index];
        if end & Self::NULL != 0 {
            return None;
        }
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before] & !Self::NULL);
        Some(&self.text[start as usize..end as usize])
    }

    /// This row with the gaps (NULLs) filled from `earlier`: the same entity given twice,
    /// the later one's values win and the earlier one's fill what it leaves out (an ADT
    /// admission and its discharge event).
    pub fn filled_from(self, earlier: &CanonicalRow) -> CanonicalRow {
        if self.ends.len() != earlier.ends.len() {
            return self;
        }
        let mut notes = self.notes.clone();
        notes.retain(|note| {
            !note.contains(" unknown ") || self.values().zip(earlier.values()).all(|(a, b)| a.is_some() || b.is_none())
        });
        let values: Vec<Option<String>> =
            self.values().zip(earlier.values()).map(|(later, before)| later.or(before).map(str::to_owned)).collect();
        CanonicalRow::new(values, notes)
    }

    /// Every column's value, in order.
    pub fn values(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.ends.len()).map(|index| self.get(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact row gives back exactly what it was built from: NULLs, empty strings and
    /// multi-byte text in any position.
    #[test]
    fn compact_rows_keep_every_value() {
        let values = vec![None, Some(String::new()), Some("Zoë 🩺".to_owned()), None, Some("x".to_owned()), None];
        let row = CanonicalRow::new(values.clone(), vec![]);
        assert_eq!(row.values().map(|v| v.map(str::to_owned)).collect::<Vec<_>>(), values);
        assert_eq!((row.get(0), row.get(1), row.get(2), row.get(5)), (None, Some(""), Some("Zoë 🩺"), None));
        assert_eq!(CanonicalRow::new([None, None], vec![]).values().collect::<Vec<_>>(), vec![None, None]);
    }
}
