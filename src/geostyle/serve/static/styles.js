// Style sets and the landmark editor. Coordinates in the SVG are the exemplar's pixel frame (centre of
// the top-left pixel at 0,0; the picture covers -0.5 .. W-0.5), the frame of the landmark files.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const setId = gs.params.get("set");
  const itemId = gs.params.get("item");
  const editor = { data: null, points: {}, selected: null, placing: null, dirty: false, drag: null };

  function setDirty(value) {
    editor.dirty = value;
    $("dirty").textContent = value ? "unsaved changes" : "";
  }

  // ------------------------------------------------------------------------------- set list / create
  async function loadSets() {
    const data = await gs.api("/api/styles");
    $("detector").replaceChildren(
      ...Object.entries(data.detectors).map(([spec, label]) =>
        gs.option(spec, `${spec} — ${label}`, spec === data.default_detector)),
    );
    $("set-list").replaceChildren(
      ...data.sets.map((s) =>
        gs.el("li", {}, gs.el("a", { href: `/styles?set=${s.id}`, text: s.name }), ` · ${s.count} exemplars`)),
    );
  }

  function filesForm(input) {
    const form = new FormData();
    for (const file of input.files) form.append("files", file);
    return form;
  }

  async function createSet() {
    if (!$("set-files").files.length) return gs.message("Choose the exemplar images first.");
    const form = filesForm($("set-files"));
    form.append("name", $("set-name").value);
    form.append("detector", $("detector").value);
    $("create-set").disabled = true;
    gs.message("Uploading…", "info");
    try {
      const meta = await gs.api("/api/styles", { method: "POST", form });
      location.href = `/styles?set=${meta.id}`;
    } catch (err) {
      gs.message(err.message);
    } finally {
      $("create-set").disabled = false;
    }
  }

  // ----------------------------------------------------------------------------------- one set
  async function loadSet() {
    const data = await gs.api(`/api/styles/${setId}`);
    $("set-view").hidden = false;
    $("set-title").textContent = data.set.name;
    const counts = {};
    for (const it of data.items) counts[it.status] = (counts[it.status] || 0) + 1;
    $("set-summary").textContent = Object.entries(counts).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(" · ");
    $("items").replaceChildren(
      ...data.items.map((it) =>
        gs.el("a", { class: `thumb ${it.status}`, href: `/styles?set=${setId}&item=${it.item}`, "data-item": it.item },
          gs.el("img", { src: `/api/styles/${setId}/items/${it.item}/image`, alt: it.name, loading: "lazy" }),
          gs.el("span", { class: `badge ${it.status}`, text: it.status.replace("_", " ") }), ` ${it.name}`)),
    );
    if (data.items.some((it) => it.status === "pending")) setTimeout(() => loadSet().catch(() => {}), 1000);
    else loadGeometry();
  }

  async function addFiles() {
    if (!$("add-files").files.length) return;
    try {
      await gs.api(`/api/styles/${setId}/images`, { method: "POST", form: filesForm($("add-files")) });
      gs.message("");
      await loadSet();
    } catch (err) {
      gs.message(err.message);
    }
  }

  async function loadGeometry() {
    $("geometry-view").hidden = false;
    $("geometry-info").textContent = "computing…";
    try {
      const info = await gs.api(`/api/styles/${setId}/geometry`);
      const parts = [`${info.exemplars} exemplars with eyes and mouth`, `${info.hand_fixed} fixed by hand`];
      if (info.unusable) parts.push(`${info.unusable} unusable (no eyes or mouth)`);
      $("geometry-info").textContent = info.message || `${parts.join(" · ")}. Left: mean photo geometry → mean ` +
        "style geometry; right: a photo warped toward it at strength 0, 0.5 and 1.";
      const img = $("preview");
      if (info.image) {
        img.src = info.image;
        img.dataset.version = String(info.version);
        img.hidden = false;
      } else {
        img.hidden = true;
      }
    } catch (err) {
      $("geometry-info").textContent = err.message;
    }
  }

  // ------------------------------------------------------------------------------------- editor
  function toSvg(event) {
    const svg = $("canvas");
    const pt = svg.createSVGPoint();
    pt.x = event.clientX;
    pt.y = event.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }

  function select(name) {
    editor.selected = name;
    for (const node of document.querySelectorAll("#canvas circle")) {
      node.classList.toggle("selected", node.dataset.name === name);
    }
    for (const row of document.querySelectorAll("#points .row")) {
      row.classList.toggle("selected", row.dataset.name === name);
    }
  }

  function drawPoints() {
    const { data } = editor;
    const svg = $("canvas");
    for (const node of svg.querySelectorAll("circle")) node.remove();
    const radius = Math.max(data.width, data.height) / 110;
    for (const name of data.names) {
      const p = editor.points[name];
      if (!p) continue;
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", p[0]);
      c.setAttribute("cy", p[1]);
      c.setAttribute("r", radius);
      c.setAttribute("stroke-width", radius / 3);
      c.setAttribute("class", `part-${data.parts[name]}`);
      c.dataset.name = name;
      c.appendChild(document.createElementNS(SVG, "title")).textContent = name;
      c.addEventListener("pointerdown", (e) => {
        e.preventDefault();
        c.setPointerCapture(e.pointerId);
        editor.drag = name;
        select(name);
      });
      c.addEventListener("pointermove", (e) => {
        if (editor.drag !== name) return;
        const q = toSvg(e);
        editor.points[name] = [Math.round(q.x * 10) / 10, Math.round(q.y * 10) / 10];
        c.setAttribute("cx", editor.points[name][0]);
        c.setAttribute("cy", editor.points[name][1]);
        updateRow(name);
        setDirty(true);
      });
      const end = () => { editor.drag = null; };
      c.addEventListener("pointerup", end);
      c.addEventListener("pointercancel", end);
      svg.appendChild(c);
    }
    select(editor.selected);
  }

  function updateRow(name) {
    const row = document.querySelector(`#points .row[data-name="${name}"]`);
    if (!row) return;
    const p = editor.points[name];
    row.classList.toggle("missing", !p);
    row.querySelector(".coords").textContent = p ? `${p[0].toFixed(1)}, ${p[1].toFixed(1)}` : "missing";
    const button = row.querySelector("button");
    button.textContent = p ? "mark missing" : (editor.placing === name ? "click picture" : "place");
  }

  function buildRows() {
    const { data } = editor;
    $("points").replaceChildren(
      ...data.names.map((name) => {
        const button = gs.el("button", { class: "secondary", type: "button" });
        button.addEventListener("click", () => {
          if (editor.points[name]) {
            editor.points[name] = null;
            editor.placing = null;
            setDirty(true);
            drawPoints();
          } else {
            editor.placing = name;
            gs.message(`Click on the picture where ${name} is.`, "info");
          }
          for (const n of data.names) updateRow(n);
        });
        const row = gs.el("div", { class: "row", "data-name": name },
          gs.el("span", { class: `dot part-${data.parts[name]}` }), gs.el("span", { text: name }),
          gs.el("span", { class: "coords" }), button);
        row.addEventListener("click", (e) => { if (e.target !== button) select(name); });
        return row;
      }),
    );
    for (const name of data.names) updateRow(name);
  }

  function showItem(data) {
    editor.data = data;
    editor.points = { ...data.landmarks };
    editor.placing = null;
    setDirty(false);
    const labels = { saved: "saved by hand", detected: `detected (${data.backend})`, no_face: "no face found",
      pending: "detecting…", error: "detector error" };
    $("source").textContent = labels[data.source] || data.source;
    $("source").className = `badge ${data.source}`;
    const svg = $("canvas");
    svg.setAttribute("viewBox", `-0.5 -0.5 ${data.width} ${data.height}`);
    svg.replaceChildren();
    const image = document.createElementNS(SVG, "image");
    image.setAttribute("href", `/api/styles/${setId}/items/${data.item}/image`);
    image.setAttribute("x", -0.5);
    image.setAttribute("y", -0.5);
    image.setAttribute("width", data.width);
    image.setAttribute("height", data.height);
    svg.appendChild(image);
    buildRows();
    drawPoints();
    for (const [id, target] of [["prev", data.prev], ["next", data.next]]) {
      $(id).hidden = !target;
      if (target) $(id).href = `/styles?set=${setId}&item=${target}`;
    }
    if (data.source === "pending") setTimeout(() => loadItem().catch(() => {}), 800);
  }

  async function loadItem() {
    const data = await gs.api(`/api/styles/${setId}/items/${itemId}`);
    $("editor-view").hidden = false;
    $("item-title").textContent = `Exemplar ${itemId}`;
    $("back").href = `/styles?set=${setId}`;
    if (!editor.dirty) showItem(data);
  }

  async function save() {
    const landmarks = {};
    for (const name of editor.data.names) landmarks[name] = editor.points[name] || null;
    $("save").disabled = true;
    try {
      const data = await gs.api(`/api/styles/${setId}/items/${itemId}`, { method: "PUT", json: { landmarks } });
      showItem(data);
      const count = Object.values(data.landmarks).filter(Boolean).length;
      gs.message(`Saved ${count} landmarks of exemplar ${itemId}.`, "ok");
      loadGeometry();
    } catch (err) {
      gs.message(err.message);
    } finally {
      $("save").disabled = false;
    }
  }

  async function revert() {
    try {
      showItem(await gs.api(`/api/styles/${setId}/items/${itemId}/landmarks`, { method: "DELETE" }));
      gs.message("Back to the detected landmarks.", "ok");
      loadGeometry();
    } catch (err) {
      gs.message(err.message);
    }
  }

  function place(event) {
    if (!editor.placing || event.target.tagName === "circle") return;
    const q = toSvg(event);
    editor.points[editor.placing] = [Math.round(q.x * 10) / 10, Math.round(q.y * 10) / 10];
    const name = editor.placing;
    editor.placing = null;
    setDirty(true);
    drawPoints();
    select(name);
    for (const n of editor.data.names) updateRow(n);
    gs.message("");
  }

  async function init() {
    try {
      if (!setId) {
        await loadSets();
      } else if (!itemId) {
        $("sets-view").hidden = true;
        await loadSet();
      } else {
        $("sets-view").hidden = true;
        await loadItem();
        loadGeometry();
      }
    } catch (err) {
      gs.message(err.message);
    }
    $("create-set").addEventListener("click", createSet);
    $("add-button").addEventListener("click", addFiles);
    $("save").addEventListener("click", save);
    $("revert").addEventListener("click", revert);
    $("canvas").addEventListener("click", place);
    window.addEventListener("beforeunload", (e) => { if (editor.dirty) e.preventDefault(); });
  }
  init();
})();
