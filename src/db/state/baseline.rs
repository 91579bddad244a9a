//! Records of what happened outside a run: migrations applied before stagegate
//! (`migrate baseline`) and a down script replaced after its migration was applied.

use time::OffsetDateTime;

use super::error::{OrQueryError, StateError};
use super::store::{StateStore, begin_locked};

/// What `migrate baseline` records for one migration another runner applied.
#[derive(Debug, Clone)]
pub struct BaselineRecord<'a> {
    pub version: &'a str,
    pub version_text: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub down_checksum: Option<&'a str>,
    pub verify_checksum: Option<&'a str>,
    pub no_transaction: bool,
    pub os_user: Option<&'a str>,
    pub statements_total: i32,
    /// When the other runner applied it, where its table says.
    pub applied_at: Option<OffsetDateTime>,
    /// `sqlx`, `diesel`, `flyway`, `dbmate`, `golang-migrate` or `manual`.
    pub from: &'a str,
    /// The event's detail (JSON: the runner, the reason, what its table said).
    pub detail: &'a str,
}

impl StateStore {
    /// Records every migration of `records` as applied and baselined, each with its `baseline`
    /// event, in one transaction: all of them or none. A version stagegate already recorded
    /// makes the whole baseline fail (SQLSTATE ST006), writing nothing.
    pub async fn baseline(&mut self, records: &[BaselineRecord<'_>]) -> Result<(), StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        for record in records {
            sqlx::query!(
                r#"SELECT stagegate.record_baseline($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                                                   $11, $12)"#,
                record.version,
                record.version_text,
                record.name,
                record.checksum,
                record.down_checksum,
                record.verify_checksum,
                record.no_transaction,
                record.os_user,
                record.statements_total,
                record.applied_at,
                record.from,
                record.detail,
            )
            .execute(&mut *tx)
            .await
            .or_query_error(url)?;
        }
        tx.commit().await.or_query_error(url)?;
        Ok(())
    }

    /// Replaces the recorded down checksum of the applied migration `version` with
    /// `new_down` (`noop` for a down declared a no-op) and appends its `down_replace` event,
    /// only if the row is still applied with `checksum` and `old_down` (SQLSTATE ST005
    /// otherwise, writing nothing).
    #[allow(clippy::too_many_arguments)]
    pub async fn replace_down(
        &mut self,
        version: &str,
        version_text: &str,
        name: &str,
        checksum: &str,
        old_down: Option<&str>,
        new_down: &str,
        os_user: Option<&str>,
        detail: &str,
    ) -> Result<(), StateError> {
        let url = &self.url;
        let mut tx = begin_locked(&mut self.conn, url).await?;
        sqlx::query("SELECT stagegate.record_down_replace($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(version)
            .bind(version_text)
            .bind(name)
            .bind(checksum)
            .bind(old_down)
            .bind(new_down)
            .bind(os_user)
            .bind(detail)
            .execute(&mut *tx)
            .await
            .or_query_error(url)?;
        tx.commit().await.or_query_error(url)?;
        Ok(())
    }
}
