// Stylize page: upload once, then every change of model, strength or crop re-runs on the stored upload.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { upload: null, request: 0 };
  let ready = Promise.resolve(); // the model list, filled by init()

  function showStrength() {
    $("strength-value").textContent = Number($("strength").value).toFixed(2);
  }

  function changed() {
    // Images re-run at once; a video runs again only when asked (it takes a while).
    if (state.upload && state.upload.kind === "image") stylize();
  }

  async function stylize() {
    if (!state.upload) return;
    if (state.upload.kind === "video") return stylizeVideo();
    const ticket = ++state.request;
    $("status").textContent = "stylizing…";
    $("run").disabled = true;
    try {
      const data = await gs.api("/api/stylize", {
        method: "POST",
        json: {
          upload: state.upload.id,
          model: $("model").value,
          strength: Number($("strength").value),
          crop: $("crop").checked,
        },
      });
      if (ticket !== state.request) return; // a newer request is on its way
      const out = $("output-img");
      out.src = data.result;
      out.dataset.result = data.result;
      out.hidden = false;
      $("download").href = data.result + "?download=1";
      $("download").setAttribute("download", "");
      $("download").hidden = false;
      const faces = data.faces === 1 ? "1 face" : `${data.faces} faces`;
      $("status").textContent = `${data.width}×${data.height}, ${faces}, ${Math.round(data.ms)} ms on the server`;
      if (data.faces === 0) {
        gs.message("No face found: the picture is stylized without the geometry step.", "info");
      } else {
        gs.message("");
      }
    } catch (err) {
      if (ticket !== state.request) return;
      $("status").textContent = "";
      gs.message(err.message);
    } finally {
      if (ticket === state.request) $("run").disabled = false;
    }
  }

  async function stylizeVideo() {
    const ticket = ++state.request;
    $("run").disabled = true;
    $("output-video").hidden = true;
    $("download").hidden = true;
    try {
      let task = await gs.api("/api/videos", {
        method: "POST",
        json: { upload: state.upload.id, model: $("model").value, strength: Number($("strength").value) },
      });
      const bar = $("video-progress");
      bar.hidden = false;
      while (task.state === "running") {
        if (ticket !== state.request) return;
        bar.value = task.total ? task.done / task.total : 0;
        $("status").textContent = `frame ${task.done} of ${task.total || "?"}`;
        await new Promise((r) => setTimeout(r, 700));
        task = await gs.api(`/api/videos/${state.upload.id}/${task.id}`);
      }
      bar.hidden = true;
      if (task.state !== "done") throw new Error(task.message || "video stylization failed");
      const url = `/api/uploads/${state.upload.id}/out/${task.result}`;
      $("output-video").src = url;
      $("output-video").dataset.result = url;
      $("output-video").hidden = false;
      $("download").href = url + "?download=1";
      $("download").setAttribute("download", "");
      $("download").hidden = false;
      const rate = task.processing_fps ? `, ${task.processing_fps} frames/s` : "";
      $("status").textContent = `${task.total} frames, ${task.face_frames} with a face${rate}`;
      gs.message("");
    } catch (err) {
      $("video-progress").hidden = true;
      $("status").textContent = "";
      gs.message(err.message);
    } finally {
      $("run").disabled = false;
    }
  }

  async function upload() {
    const file = $("file").files[0];
    if (!file) return;
    await ready;
    const form = new FormData();
    form.append("file", file);
    state.upload = null;
    state.request++;
    for (const id of ["input-img", "input-video", "output-img", "output-video", "download"]) $(id).hidden = true;
    $("status").textContent = "uploading…";
    $("run").disabled = true;
    try {
      const data = await gs.api("/api/uploads", { method: "POST", form });
      state.upload = data;
      gs.message("");
      if (data.kind === "image") {
        $("input-img").src = data.input;
        $("input-img").hidden = false;
        $("input-info").textContent = `${data.width}×${data.height}`;
        $("run").disabled = false;
        await stylize();
      } else {
        $("input-video").src = data.input;
        $("input-video").hidden = false;
        $("input-info").textContent = `${data.width}×${data.height}, ${data.frames} frames, ${data.seconds} s`;
        $("run").disabled = false;
        await stylizeVideo();
      }
    } catch (err) {
      $("status").textContent = "";
      gs.message(err.message);
    }
  }

  function init() {
    // The file listener goes on before the model list arrives, so a file chosen at once is not
    // lost; upload() waits for the list (it stylizes with the chosen model and its strength).
    $("file").addEventListener("change", upload);
    ready = gs.loadModels($("model"), $("strength")).then(showStrength);
    $("strength").addEventListener("input", showStrength);
    $("strength").addEventListener("change", changed);
    $("model").addEventListener("change", () => {
      // Each model starts at the strength it suggests (its evaluation chose it).
      $("strength").value = gs.modelStrength($("model"));
      showStrength();
      changed();
    });
    $("crop").addEventListener("change", changed);
    $("run").addEventListener("click", stylize);
    showStrength();
  }
  init();
})();
