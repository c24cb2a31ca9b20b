//! The record of written exports, for `GET /exports`.

use std::future::Future;

use super::item::*;
use super::schema::*;
use super::transact::unavailable;
use super::{DynamoStore, StoreError, StoreResult};
use crate::export::{ExportCursor, ExportRecord};
use crate::tenant::TenantId;

pub trait ExportStore: Send + Sync {
    /// Records a written export; one for the same key replaces it.
    fn put_export(
        &self,
        tenant: &TenantId,
        record: &ExportRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The tenant's exports, newest first; `after` is a previous page's cursor.
    fn list_exports(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&ExportCursor>,
    ) -> impl Future<Output = StoreResult<(Vec<ExportRecord>, Option<ExportCursor>)>> + Send;
}

impl ExportStore for DynamoStore {
    async fn put_export(&self, tenant: &TenantId, record: &ExportRecord) -> StoreResult<()> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(export_item(tenant, record)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_exports(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&ExportCursor>,
    ) -> StoreResult<(Vec<ExportRecord>, Option<ExportCursor>)> {
        // The start key is built here from the cursor's parts, with the
        // caller's tenant, so a cursor never leaves the tenant.
        let start = after.map(|cursor| {
            Item::from([
                (PK.to_owned(), s(exports_pk(tenant))),
                (SK.to_owned(), s(&cursor.key)),
                (GSI1PK.to_owned(), s(exports_pk(tenant))),
                (GSI1SK.to_owned(), s(cursor.to_string())),
            ])
        });
        let (items, more) = self
            .gsi1_page(exports_pk(tenant), limit, start, true)
            .await?;
        let records = items
            .iter()
            .map(export_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = more.then(|| records.last().map(ExportCursor::of)).flatten();
        Ok((records, next))
    }
}

fn export_item(tenant: &TenantId, record: &ExportRecord) -> Item {
    Item::from([
        (PK.into(), s(exports_pk(tenant))),
        (SK.into(), s(&record.key)),
        (GSI1PK.into(), s(exports_pk(tenant))),
        (GSI1SK.into(), s(export_gsi1sk(record))),
        ("type".into(), s("export")),
        ("key".into(), s(&record.key)),
        ("rows".into(), n(record.rows)),
        ("from".into(), time(record.from)),
        ("to".into(), time(record.to)),
        ("created_at".into(), time(record.created_at)),
    ])
}

pub(super) fn export_from(item: &Item) -> Result<ExportRecord, StoreError> {
    Ok(ExportRecord {
        key: req(item, get_s(item, "key"), "key")?.to_owned(),
        rows: req(item, get_n(item, "rows"), "rows")?,
        from: req_time(item, "from")?,
        to: req_time(item, "to")?,
        created_at: req_time(item, "created_at")?,
    })
}
