//! identity: every input record becomes one identical output record.
#[path = "../../sdk/rust/slspipe.rs"]
mod slspipe;

pub fn init(_cfg: &slspipe::Config) -> Result<(), String> {
    Ok(())
}

pub fn process<'a>(batch: &slspipe::Batch<'a>, out: &mut slspipe::Output<'a>) -> Result<(), String> {
    for i in 0..batch.len() {
        out.copy(batch, i);
        out.ok(i, 0);
    }
    Ok(())
}
