// Webcam page: one frame in flight at a time (the server's pace sets the frame rate), JPEG both ways.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_WIDTH = 480;
  let stream = null;
  let running = false;
  const counters = { frames: 0, faces: 0, fps: 0, last: 0 };
  let ready = Promise.resolve(); // the model list, filled by init()
  // One id per camera stream: the server keeps this stream's face tracks between frames.
  const streamId = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");

  function showStrength() {
    $("strength-value").textContent = Number($("strength").value).toFixed(2);
  }

  async function loop() {
    const video = $("camera");
    const capture = document.createElement("canvas");
    const out = $("output");
    const ctx = out.getContext("2d");
    while (running) {
      if (!video.videoWidth) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
      capture.width = Math.round(video.videoWidth * scale);
      capture.height = Math.round(video.videoHeight * scale);
      capture.getContext("2d").drawImage(video, 0, 0, capture.width, capture.height);
      const blob = await new Promise((r) => capture.toBlob(r, "image/jpeg", 0.85));
      const query = new URLSearchParams({ stream: streamId, model: $("model").value, strength: $("strength").value });
      let response;
      try {
        response = await gs.api(`/api/frame?${query}`, {
          method: "POST",
          body: blob,
          headers: { "Content-Type": "image/jpeg" },
        });
      } catch (err) {
        gs.message(err.message);
        stop();
        return;
      }
      const face = Number(response.headers.get("X-Faces")) > 0;
      const ms = Number(response.headers.get("X-Ms"));
      const bitmap = await createImageBitmap(await response.blob());
      if (out.width !== bitmap.width || out.height !== bitmap.height) {
        out.width = bitmap.width;
        out.height = bitmap.height;
      }
      ctx.drawImage(bitmap, 0, 0);
      counters.frames++;
      if (face) counters.faces++;
      const now = performance.now();
      if (counters.last) {
        const fps = 1000 / (now - counters.last);
        counters.fps = counters.fps ? 0.9 * counters.fps + 0.1 * fps : fps;
      }
      counters.last = now;
      $("frames").textContent = counters.frames;
      $("faces").textContent = counters.faces;
      $("fps").textContent = counters.fps.toFixed(1);
      $("latency").textContent = ms.toFixed(0);
      $("face-state").textContent = face ? "" : "no face in view";
    }
  }

  async function start() {
    await ready;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      gs.message("This browser gives no camera access on this page.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      gs.message(`No camera: ${err.message || err.name}`);
      return;
    }
    gs.message("");
    $("camera").srcObject = stream;
    running = true;
    $("start").disabled = true;
    $("stop").disabled = false;
    loop();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("start").disabled = false;
    $("stop").disabled = true;
  }

  function init() {
    // Start and Stop listen at once, so a click while the model list loads is not lost; start()
    // waits for the list (frames go out with the chosen model and its strength).
    ready = gs.loadModels($("model"), $("strength")).then(showStrength);
    $("strength").addEventListener("input", showStrength);
    $("model").addEventListener("change", () => {
      $("strength").value = gs.modelStrength($("model"));
      showStrength();
    });
    $("start").addEventListener("click", start);
    $("stop").addEventListener("click", stop);
    showStrength();
  }
  init();
})();
