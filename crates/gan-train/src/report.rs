//! The HTML run report (`gan report`): one self-contained file (images embedded as data URIs,
//! no scripts or styles fetched from anywhere) with what a person wants to see of a run: its
//! name, data and resolved config, the training and evaluation curves, the latest and best
//! samples, the best checkpoint, `eval.json`'s scores, and the divergence guard's events.
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::config::BestMetric;
use crate::data::DataInfo;
use crate::error::{io_err, Result};
use crate::records::EvalRecord;
use crate::run_dir::RunDir;
use crate::scoring::BestRecord;
use crate::TrainConfig;

/// What a report shows, for the caller's summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    /// The file written.
    pub path: PathBuf,
    /// Images embedded.
    pub images: usize,
    /// Guard events (rollbacks, warnings, schedule changes) listed.
    pub events: usize,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An `<img>` of a PNG file, or `None` when it is not there.
fn img(path: &Path, alt: &str) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            esc(alt),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("cannot read", path)(e)),
    }
}

/// `(key, value)` rows for every number or string of a JSON value, keys dotted.
fn rows(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                rows(&key, v, out);
            }
        }
        serde_json::Value::Number(n) => out.push((prefix.into(), n.to_string())),
        serde_json::Value::String(s) => out.push((prefix.into(), s.clone())),
        serde_json::Value::Bool(b) => out.push((prefix.into(), b.to_string())),
        serde_json::Value::Array(a) if a.len() <= 12 && a.iter().all(|x| !x.is_object()) => out
            .push((
                prefix.into(),
                serde_json::Value::Array(a.clone()).to_string(),
            )),
        _ => {}
    }
}

fn table(rows: &[(String, String)]) -> String {
    let mut t = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(t, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    t.push_str("</table>");
    t
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1400px;color:#222}\
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}h2{border-bottom:1px solid #ddd;\
padding-bottom:.2em;margin-top:1.6em}img{max-width:100%;border:1px solid #eee;margin:.3em}\
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;\
text-align:left}th{background:#f6f6f6;font-weight:normal}pre{background:#f6f6f6;padding:1em;\
overflow:auto;font-size:.85em}.grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}\
figure{margin:0}figcaption{color:#555;font-size:.9em}footer{color:#888;margin-top:2em;font-size:.8em}";

/// Writes the report of the run in `run_dir` to `out`.
pub fn write_html(run_dir: &Path, out: &Path) -> Result<ReportSummary> {
    let run = RunDir::new(run_dir);
    let cfg_text = fs::read_to_string(run.config()).map_err(io_err("cannot read", run.config()))?;
    let cfg = TrainConfig::from_toml_str(&cfg_text, &run.config())?;
    let info = DataInfo::read(&run.data_info()).ok();
    let metrics = fs::read_to_string(run.metrics()).unwrap_or_default();
    let records: Vec<serde_json::Value> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let evals: Vec<EvalRecord> = records
        .iter()
        .filter(|r| r["kind"] == "eval")
        .filter_map(|r| serde_json::from_value(r.clone()).ok())
        .collect();
    let last_step = records
        .iter()
        .filter_map(|r| r["step"].as_u64())
        .max()
        .unwrap_or(0);
    let best = BestRecord::read(&run.best()).ok().flatten();
    let mut images = 0;
    let mut body = String::new();
    let mut figure = |body: &mut String, html: Option<String>, caption: &str| {
        if let Some(h) = html {
            images += 1;
            let _ = write!(
                body,
                "<figure>{h}<figcaption>{}</figcaption></figure>",
                esc(caption)
            );
        }
    };

    // Header.
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"sub\">{} · family {} · {} of {} steps logged</p>",
        esc(&cfg.name),
        esc(&run.root.display().to_string()),
        esc(cfg.model.name()),
        last_step,
        cfg.train.steps
    );
    body.push_str("<h2>Data</h2>");
    let mut data_rows = vec![("kind".to_string(), cfg.data.name().to_string())];
    if let Some(i) = &info {
        data_rows.push(("source".into(), i.source.clone()));
        data_rows.push(("sample shape".into(), format!("{:?}", i.shape)));
        if i.n_samples > 0 {
            data_rows.push(("samples".into(), i.n_samples.to_string()));
        }
        if !i.class_names.is_empty() {
            data_rows.push(("classes".into(), i.class_names.join(", ")));
        }
    }
    body.push_str(&table(&data_rows));

    // Curves.
    body.push_str("<h2>Training</h2><div class=\"grid\">");
    figure(
        &mut body,
        img(&run.plots().join("losses.png"), "training statistics")?,
        "every named statistic against step (plots/losses.png)",
    );
    body.push_str("</div><h2>Evaluation</h2><div class=\"grid\">");
    let mut any_score = false;
    for m in BestMetric::ALL {
        let path = run.plots().join(format!("{}.png", m.name()));
        let html = img(&path, m.name())?;
        any_score |= html.is_some();
        figure(
            &mut body,
            html,
            &format!("{} (plots/{}.png)", m.name(), m.name()),
        );
    }
    if !any_score {
        body.push_str("<p>No evaluation scores yet.</p>");
    }
    body.push_str("</div>");

    // Samples: the latest and the best checkpoint's.
    let two_d = cfg.data.mixture_kind().is_some();
    body.push_str("<h2>Samples</h2><div class=\"grid\">");
    figure(
        &mut body,
        img(&run.plots().join("samples-latest.png"), "latest samples")?,
        if two_d {
            "latest: samples (blue) over the true modes (red rings: the high-quality radius)"
        } else {
            "latest sample grid"
        },
    );
    if let Some(b) = &best {
        let grid = if two_d {
            Some(run.plots().join(format!("samples-step-{:09}.png", b.step)))
        } else {
            evals
                .iter()
                .find(|e| e.step == b.step)
                .and_then(|e| e.grid.as_ref())
                .and_then(|g| g.file_name())
                .map(|name| run.samples().join(name))
        };
        if let Some(g) = grid {
            figure(
                &mut body,
                img(&g, "best samples")?,
                &format!("at the best checkpoint (step {})", b.step),
            );
        }
    }
    body.push_str("</div>");

    body.push_str("<h2>Best checkpoint</h2>");
    match &best {
        Some(b) => body.push_str(&table(&[
            ("score".into(), b.metric.clone()),
            ("value".into(), format!("{:.6}", b.value)),
            ("step".into(), b.step.to_string()),
            ("checkpoint".into(), b.checkpoint.display().to_string()),
        ])),
        None => body.push_str("<p>None kept (set <code>eval.best</code> in the config).</p>"),
    }

    body.push_str("<h2>Scores of <code>gan eval</code></h2>");
    match fs::read_to_string(run.root.join("eval.json")) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => {
                let mut r = Vec::new();
                rows("", &v, &mut r);
                body.push_str(&table(&r));
            }
            Err(e) => {
                let _ = write!(
                    body,
                    "<p>eval.json does not parse: {}</p>",
                    esc(&e.to_string())
                );
            }
        },
        Err(_) => body.push_str("<p>No eval.json (run <code>gan eval --run DIR</code>).</p>"),
    }

    // The guard's and the schedule's events.
    body.push_str("<h2>Divergence guard and warnings</h2>");
    let events: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            matches!(
                r["kind"].as_str(),
                Some("rollback" | "warning" | "schedule")
            )
        })
        .collect();
    if events.is_empty() {
        body.push_str("<p>No rollbacks, warnings or schedule changes.</p>");
    } else {
        body.push_str("<table><tr><th>step</th><th>event</th><th>what</th></tr>");
        for e in &events {
            let what = e["reason"]
                .as_str()
                .or_else(|| e["message"].as_str())
                .unwrap_or("");
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                e["step"],
                esc(e["kind"].as_str().unwrap_or("")),
                esc(what)
            );
        }
        body.push_str("</table>");
    }

    let _ = write!(
        body,
        "<h2>Resolved config</h2><pre>{}</pre><footer>gan report {} · images decoded: \
         <span id=\"decoded\">(not checked: scripts off)</span></footer>",
        esc(&cfg_text),
        env!("CARGO_PKG_VERSION")
    );
    // The page says how many of its images decoded (a headless browser test reads it).
    let script = "<script>window.addEventListener('load',function(){var i=document.images,\
n=0;for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0){n++;}}\
var t=n+'/'+i.length;document.body.setAttribute('data-images-decoded',t);\
document.getElementById('decoded').textContent=t;});</script>";
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — gan run \
         report</title><style>{STYLE}</style></head><body>{body}{script}</body></html>\n",
        esc(&cfg.name)
    );
    gan_tensor::write_atomic(out, html.as_bytes())?;
    Ok(ReportSummary {
        path: out.to_path_buf(),
        images,
        events: events.len(),
    })
}
