use anyhow::Result;

use crate::Env;
use crate::harness::{Row, Scale};

pub(crate) async fn w7_embedded(_env: &Env, _scale: Scale) -> Result<Vec<Row>> {
    anyhow::bail!("stub")
}
pub(crate) async fn w8_proxy(_env: &Env, _scale: Scale) -> Result<Vec<Row>> {
    anyhow::bail!("stub")
}
pub(crate) async fn w9_mapping_write(_env: &Env, _scale: Scale) -> Result<Vec<Row>> {
    anyhow::bail!("stub")
}
pub(crate) async fn w11_tikv(_env: &Env, _scale: Scale) -> Result<Vec<Row>> {
    anyhow::bail!("stub")
}
