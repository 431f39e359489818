//! filter-enrich: keeps only records whose `status` is at least `min_status` and adds
//! `severity` (`warn` for 4xx, `error` for 5xx, `info` below 400 when `min_status`
//! lets such records through) and `service` (from config) to the ones it keeps.
//! A record without a numeric `status` is an error outcome.
//!
//! Config: `min_status` (default 400), `service` (default `unknown`),
//! `status_field` (default `status`).
#[path = "../../sdk/rust/slspipe.rs"]
mod slspipe;

use std::cell::RefCell;

struct Settings {
    min_status: u32,
    // Leaked once per instance at init, so output fields can reference it for ever.
    service: &'static [u8],
    status_field: Vec<u8>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings {
        min_status: 400,
        service: b"unknown",
        status_field: b"status".to_vec(),
    });
}

pub fn init(cfg: &slspipe::Config) -> Result<(), String> {
    SETTINGS.with(|s| {
        let mut s = s.borrow_mut();
        for (k, v) in cfg.iter() {
            let text = String::from_utf8_lossy(v);
            match k {
                b"min_status" => {
                    s.min_status = text
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| format!("filter-enrich: min_status {:?} is not a number", text))?
                }
                b"service" => s.service = Box::leak(v.to_vec().into_boxed_slice()),
                b"status_field" if !v.is_empty() => s.status_field = v.to_vec(),
                _ => {
                    return Err(format!(
                        "filter-enrich: unknown config key {:?}; known: min_status, service, status_field",
                        String::from_utf8_lossy(k)
                    ))
                }
            }
        }
        Ok(())
    })
}

fn parse_status(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as u32;
    }
    Some(n)
}

pub fn process<'a>(batch: &slspipe::Batch<'a>, out: &mut slspipe::Output<'a>) -> Result<(), String> {
    SETTINGS.with(|s| {
        let s = s.borrow();
        let service: &'static [u8] = s.service;
        for i in 0..batch.len() {
            let rec = batch.record(i);
            let status = match rec.get(&s.status_field).map(|v| (v, parse_status(v))) {
                Some((_, Some(n))) => n,
                Some((v, None)) => {
                    out.error(i, &format!("filter-enrich: status {:?} is not a number", String::from_utf8_lossy(v)));
                    continue;
                }
                None => {
                    out.error(i, &format!("filter-enrich: record has no field {:?}", String::from_utf8_lossy(&s.status_field)));
                    continue;
                }
            };
            if status < s.min_status {
                out.ok(i, 0); // no outputs: filtered out
                continue;
            }
            let severity: &'static [u8] = match status {
                500..=599 => b"error",
                400..=499 => b"warn",
                _ => b"info",
            };
            out.copy(batch, i);
            out.field(b"severity", severity);
            out.field(b"service", service);
            out.ok(i, 0);
        }
    });
    Ok(())
}
