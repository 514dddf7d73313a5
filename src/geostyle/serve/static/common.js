// Shared helpers of every page: API calls that turn server errors into one readable line, messages,
// and a DOM builder that only ever sets text (never HTML), so no uploaded name can inject markup.
"use strict";

const gs = (() => {
  async function api(path, { method = "GET", json, form, body, headers = {} } = {}) {
    const opts = { method, headers: { ...headers } };
    if (method !== "GET") opts.headers["X-Geostyle"] = "1";
    if (json !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(json);
    } else if (form !== undefined) {
      opts.body = form;
    } else if (body !== undefined) {
      opts.body = body;
    }
    let response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new Error("the server cannot be reached");
    }
    const type = response.headers.get("content-type") || "";
    if (!response.ok) {
      let text = `${response.status} ${response.statusText}`;
      if (type.includes("json")) {
        const data = await response.json().catch(() => ({}));
        text = data.error || (typeof data.detail === "string" ? data.detail : text);
      }
      throw new Error(text);
    }
    return type.includes("json") ? response.json() : response;
  }

  function message(text, kind = "error") {
    const box = document.getElementById("message");
    if (!box) return;
    box.textContent = text || "";
    box.className = `message ${kind}`;
    box.hidden = !text;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function option(value, label, selected) {
    const node = el("option", { value, text: label });
    if (selected) node.selected = true;
    return node;
  }

  async function fillModels(select, wanted) {
    const data = await api("/api/models");
    select.replaceChildren(
      ...data.models.map((m) => {
        const node = option(m.name, m.label, m.name === wanted);
        node.dataset.strength = m.strength;
        return node;
      })
    );
    return data;
  }

  // The geometry strength the selected model suggests (the slider starts there and follows a model change).
  function modelStrength(select) {
    const node = select.selectedOptions[0];
    const value = node ? Number(node.dataset.strength) : NaN;
    return Number.isFinite(value) ? value : 0.5;
  }

  const params = new URLSearchParams(location.search);

  // A page's model list and strength slider (Stylize, Webcam): the list from the server, the model
  // and strength from the address (?model=, ?strength=) or the model's own strength. Returns a
  // promise that settles once the list is in (an error is shown in the page, not thrown), so a page
  // can put its listeners on first and let them wait for it.
  async function loadModels(select, slider) {
    try {
      await fillModels(select, params.get("model") || "anime");
      slider.value = params.get("strength") || modelStrength(select);
    } catch (err) {
      message(err.message);
    }
  }

  return { api, message, el, option, modelStrength, loadModels, params };
})();
