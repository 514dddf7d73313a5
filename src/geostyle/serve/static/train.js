// Training page: start jobs, watch them (polled), stop / resume / continue, use the finished model.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const cards = new Map();
  const RUNNING = new Set(["starting", "preparing", "training", "evaluating"]);

  async function loadChoices() {
    const [styles, photos, presets] = await Promise.all([
      gs.api("/api/styles"), gs.api("/api/photos"), gs.api("/api/presets"),
    ]);
    const wantStyle = gs.params.get("style");
    $("style-set").replaceChildren(
      ...styles.sets.map((s) => gs.option(s.id, `${s.name} (${s.count})`, s.id === wantStyle)));
    $("photo-set").replaceChildren(...photos.sets.map((s) => gs.option(s.id, `${s.name} (${s.count})`)));
    $("preset").replaceChildren(...presets.presets.map((p) => gs.option(p, p, p === "anime")));
  }

  async function startJob() {
    $("start-job").disabled = true;
    try {
      await gs.api("/api/jobs", {
        method: "POST",
        json: {
          style_set: $("style-set").value,
          photo_set: $("photo-set").value,
          preset: $("preset").value,
          steps: Number($("steps").value),
          name: $("job-name").value,
        },
      });
      gs.message("Training started.", "ok");
      await refresh();
    } catch (err) {
      gs.message(err.message);
    } finally {
      $("start-job").disabled = false;
    }
  }

  async function uploadPhotos() {
    const form = new FormData();
    for (const file of $("photo-files").files) form.append("files", file);
    form.append("name", $("photo-name").value);
    try {
      await gs.api("/api/photos", { method: "POST", form });
      gs.message("Photo set uploaded.", "ok");
      await loadChoices();
    } catch (err) {
      gs.message(err.message);
    }
  }

  async function action(job, path, json) {
    try {
      await gs.api(`/api/jobs/${job}/${path}`, { method: "POST", json: json || {} });
      await refresh();
    } catch (err) {
      gs.message(err.message);
    }
  }

  function sparkline(svg, series) {
    svg.replaceChildren();
    const pts = series.filter((p) => p[1] !== null && p[1] !== undefined);
    if (pts.length < 2) return;
    const steps = pts.map((p) => p[0]);
    const lo = Math.min(...steps);
    const hi = Math.max(...steps);
    for (const [col, color] of [[1, "#3451b2"], [2, "#f97316"]]) {
      const vals = pts.map((p) => p[col]).filter((v) => v !== null && v !== undefined);
      if (vals.length < 2) continue;
      const vmin = Math.min(...vals);
      const vmax = Math.max(...vals);
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", pts.map((p) => {
        const x = hi > lo ? ((p[0] - lo) / (hi - lo)) * 300 : 0;
        const y = vmax > vmin ? 55 - ((p[col] - vmin) / (vmax - vmin)) * 50 : 30;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      }).join(" "));
      line.setAttribute("stroke", color);
      svg.appendChild(line);
    }
  }

  function card(job) {
    let c = cards.get(job.id);
    if (c) return c;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 300 60");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "spark");
    c = {
      root: gs.el("div", { class: "job", "data-job": job.id }),
      title: gs.el("h3"),
      phase: gs.el("span", { class: "badge phase" }),
      progress: gs.el("progress", { max: "1", value: "0" }),
      step: gs.el("span", { class: "step" }),
      stats: gs.el("div", { class: "stats" }),
      message: gs.el("div", { class: "job-message" }),
      buttons: gs.el("div", { class: "controls" }),
      log: gs.el("pre"),
      sample: gs.el("img", { class: "sample", alt: "latest sample grid", hidden: true }),
      sampleCaption: gs.el("div", { class: "muted" }),
      evaluation: gs.el("div", { class: "evaluation" }),
      svg,
    };
    c.root.append(
      gs.el("div", {}, c.title, c.phase, c.progress, c.step, c.stats, c.svg,
        gs.el("div", { class: "muted", text: "blue: generator loss · orange: style critic loss" }),
        c.message, c.buttons, c.evaluation, gs.el("details", {}, gs.el("summary", { text: "log" }), c.log)),
      gs.el("div", {}, c.sample, c.sampleCaption),
    );
    cards.set(job.id, c);
    return c;
  }

  function render(job) {
    const c = card(job);
    c.title.textContent = `${job.name} `;
    c.title.append(c.phase);
    c.phase.textContent = job.phase;
    c.phase.className = `badge phase ${job.phase}`;
    c.progress.value = job.steps ? job.step / job.steps : 0;
    c.step.textContent = `step ${job.step} of ${job.steps}`;
    const last = job.last || {};
    const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : "–");
    c.stats.replaceChildren(
      gs.el("span", { text: `G ${fmt(last["g/total"])}` }),
      gs.el("span", { text: `D style ${fmt(last["d/style"])}` }),
      gs.el("span", { text: `${fmt(last["time/steps_per_s"])} steps/s` }),
    );
    sparkline(c.svg, job.series || []);
    c.message.textContent = job.message || "";
    c.message.className = `job-message ${job.phase === "failed" ? "message error" : "muted"}`;
    const buttons = [];
    if (job.alive) {
      buttons.push(gs.el("button", { class: "secondary stop", text: "Stop", onclick: () => action(job.id, "stop") }));
    } else if (job.phase !== "done") {
      buttons.push(gs.el("button", { class: "resume", text: "Resume", onclick: () => action(job.id, "resume") }));
    } else {
      const more = gs.el("input", { type: "number", min: String(job.steps + 1), value: String(job.steps * 2), class: "more-steps" });
      buttons.push(more, gs.el("button", { class: "secondary continue", text: "Continue to these steps",
        onclick: () => action(job.id, "resume", { steps: Number(more.value) }) }));
    }
    if (job.phase === "done") {
      buttons.push(gs.el("button", { class: "secondary evaluate", text: job.evaluation ? "Evaluate again" : "Evaluate",
        onclick: () => action(job.id, "evaluate") }));
    }
    if (job.model) {
      buttons.push(gs.el("a", { class: "use-model", href: `/?model=${job.model}`, text: "Use this model" }),
        gs.el("a", { href: `/webcam?model=${job.model}`, text: "on the webcam" }));
    }
    const key = JSON.stringify([job.alive, job.phase, job.model, job.steps, Boolean(job.evaluation)]);
    if (c.buttons.dataset.key !== key) {
      c.buttons.replaceChildren(...buttons);
      c.buttons.dataset.key = key;
    }
    renderEvaluation(c, job);
    c.log.textContent = (job.log || []).join("\n");
    const latest = job.samples && job.samples[job.samples.length - 1];
    if (latest) {
      const src = `/api/jobs/${job.id}/samples/${latest}`;
      if (c.sample.getAttribute("src") !== src) c.sample.src = src;
      c.sample.hidden = false;
      c.sampleCaption.textContent = `sample grid, ${latest.replace(".png", "")} (columns: photo, photo warped, ` +
        "output, cycle, exemplar, exemplar warped)";
    }
    return c.root;
  }

  function renderEvaluation(c, job) {
    const ev = job.evaluation;
    const key = JSON.stringify([ev, job.phase]);
    if (c.evaluation.dataset.key === key) return;
    c.evaluation.dataset.key = key;
    if (job.phase === "evaluating") {
      c.evaluation.replaceChildren(gs.el("p", { class: "muted", text: "evaluating beside the baselines…" }));
      return;
    }
    if (!ev) {
      c.evaluation.replaceChildren();
      return;
    }
    const fmt = (v) => (v === null || v === undefined ? "–" : String(v));
    const table = gs.el("table", { class: "metrics" },
      gs.el("thead", {}, gs.el("tr", {}, gs.el("th", { text: "" }), ev.columns.map((t) => gs.el("th", { text: t })))),
      gs.el("tbody", {}, ev.rows.map((row, i) =>
        gs.el("tr", { class: i === 0 ? "model-row" : "" }, row.map((v, j) => gs.el(j ? "td" : "th", { text: fmt(v) }))))));
    c.evaluation.replaceChildren(
      gs.el("h4", { text: `Evaluation: ${ev.photos} photos, ${ev.style_images} style images (the job's own, seen in training)` }),
      table,
      gs.el("img", { class: "eval-sheet", src: `/api/jobs/${job.id}/evaluation.jpg?v=${ev.seconds}`, alt: "evaluation contact sheet" }),
    );
  }

  async function refresh() {
    const data = await gs.api("/api/jobs");
    const box = $("jobs");
    if (!data.jobs.length) return;
    box.replaceChildren(...data.jobs.map(render));
    return data.jobs.some((j) => RUNNING.has(j.phase));
  }

  async function poll() {
    let busy = false;
    try {
      busy = await refresh();
    } catch (err) {
      gs.message(err.message);
    }
    setTimeout(poll, busy ? 1000 : 4000);
  }

  async function init() {
    try {
      await loadChoices();
    } catch (err) {
      gs.message(err.message);
    }
    $("start-job").addEventListener("click", startJob);
    $("upload-photos").addEventListener("click", uploadPhotos);
    poll();
  }
  init();
})();
