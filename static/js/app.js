// Red Queen's only script of its own. Pages work without it; it adds small comforts.
// No inline handlers and no eval: the Content-Security-Policy forbids both.
"use strict";

(function () {
  // Reading time: while a case is on screen and the tab is visible, tell the server
  // every 20 seconds which paragraph is being read. The server measures the time
  // itself and caps each beat, so a missed or repeated beat does no harm.
  const article = document.querySelector("[data-heartbeat-url]");
  if (!article) return;
  const url = article.dataset.heartbeatUrl;
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  const paragraphs = Array.from(article.querySelectorAll("[data-paragraph]"));
  // The paragraph being read: the topmost one in the upper part of the window, once it
  // has stayed there a moment. Scrolling past paragraphs (back up to the menu, say)
  // does not move it, so leaving the page keeps the place the student had reached.
  let current = null;
  let lastActivity = Date.now();
  const inView = new Set();
  let settling = null;

  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const number = Number(entry.target.dataset.paragraph);
          if (entry.isIntersecting) inView.add(number);
          else inView.delete(number);
        }
        clearTimeout(settling);
        if (inView.size) {
          const top = Math.min(...inView);
          settling = setTimeout(() => { current = top; }, 1500);
        }
      },
      { rootMargin: "0px 0px -60% 0px" }
    );
    paragraphs.forEach((p) => observer.observe(p));
  }
  for (const type of ["scroll", "keydown", "pointermove", "touchstart"]) {
    window.addEventListener(type, () => { lastActivity = Date.now(); }, { passive: true });
  }

  function send() {
    const body = new URLSearchParams();
    if (current) body.set("paragraph", current);
    // keepalive: the request outlives the page, so the last position survives a click
    // on a link, a closed tab or a phone locking its screen.
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
      keepalive: true,
    }).catch(() => {});
  }
  function beat() {
    if (document.visibilityState !== "visible") return;
    if (Date.now() - lastActivity > 120000) return; // Idle for two minutes: not reading.
    send();
  }
  setInterval(beat, 20000);
  // Leaving the page (or hiding it) sends where the reader was, once.
  let leftAt = null;
  function leave() {
    if (leftAt === null) {
      leftAt = Date.now();
      send();
    }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") leave();
    else leftAt = null;
  });
  window.addEventListener("pagehide", leave);
})();

(function () {
  // Quiz autosave: each save carries the time it was made, so the server can ignore a
  // delayed older save that arrives after a newer one.
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.closest("[data-autosave]")) {
      event.detail.parameters.seq = String(Date.now());
    }
  });

  // A spectrum slider always has a place; moving it is what places it, so it unticks
  // its "Not placed yet" box (without script the student unticks it).
  document.addEventListener("input", (event) => {
    const id = event.target.dataset && event.target.dataset.unplaced;
    const box = id && document.getElementById(id);
    if (box) box.checked = false;
  });

  // Quiz timer: count down the time the server gave; at zero, reload so the server
  // closes the attempt and shows the result. The server enforces the limit either way.
  const timer = document.querySelector("[data-deadline]");
  if (!timer) return;
  const deadline = Date.parse(timer.dataset.deadline);
  const value = timer.querySelector(".timer__value");
  function tick() {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    value.textContent = `${minutes} min ${seconds} s`;
    timer.classList.toggle("timer--low", left < 60);
    if (left === 0) {
      clearInterval(interval);
      setTimeout(() => window.location.reload(), 1500);
    }
  }
  const interval = setInterval(tick, 1000);
  tick();
})();

(function () {
  // Thread polling: skip a poll while the tab is hidden, or while a reply or an edit is
  // being written inside the thread (the swap would throw the text away).
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (!elt.hasAttribute || !elt.hasAttribute("data-poll")) return;
    if (document.visibilityState !== "visible" || elt.querySelector(".reply-form, .edit-form")) {
      event.preventDefault();
    }
  });

  // Citation previews: hovering or focusing a ¶ link shows the paragraph it cites.
  const cache = new Map();
  async function show(link) {
    const url = link.dataset.preview;
    if (!cache.has(url)) {
      cache.set(url, fetch(url + "?preview=1", { credentials: "same-origin" }).then((r) => r.ok ? r.text() : ""));
    }
    const html = await cache.get(url);
    if (!html || link.nextElementSibling?.classList.contains("cite-preview")) return;
    const box = document.createElement("span");
    box.className = "cite-preview";
    box.setAttribute("role", "tooltip");
    box.id = "preview-" + Math.random().toString(36).slice(2);
    box.innerHTML = html; // Our own server's rendering of a sanitised paragraph.
    link.setAttribute("aria-describedby", box.id);
    link.after(box);
  }
  function hide(link) {
    const box = link.nextElementSibling;
    if (box && box.classList.contains("cite-preview")) box.remove();
    link.removeAttribute("aria-describedby");
  }
  for (const [on, off] of [["mouseover", "mouseout"], ["focusin", "focusout"]]) {
    document.addEventListener(on, (e) => {
      const link = e.target.closest && e.target.closest("a.cite[data-preview]");
      if (link) show(link);
    });
    document.addEventListener(off, (e) => {
      const link = e.target.closest && e.target.closest("a.cite[data-preview]");
      if (link) hide(link);
    });
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") document.querySelectorAll(".cite-preview").forEach((b) => b.remove());
  });
})();

(function () {
  // Grading one student at a time: n and p go to the next and previous student, as
  // the page's links say, unless the grader is typing.
  if (!document.querySelector("[data-hotkeys]")) return;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const rel = { n: "next", p: "prev" }[event.key];
    const link = rel && document.querySelector(`[data-hotkeys] a[rel="${rel}"]`);
    if (link) window.location.assign(link.href);
  });
})();

(function () {
  // A range input shows its value in the <output> that names it: a slider is usable
  // without seeing where it stopped only with a screen reader.
  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("input[type=range][data-show-value]")) return;
    const output = document.querySelector(`output[for="${input.id}"]`);
    if (output) output.textContent = input.value;
  });
})();

(function () {
  // Conditional polling: an element that polls carries the ETag of what it shows in
  // data-etag and asks again with If-None-Match, so an unchanged page is a real 304,
  // which htmx is configured (base.html) to leave alone. Left to the browser's cache,
  // the revalidated old body would be swapped in at every poll, taking focus, clicks and
  // the screen reader's place with it. Only the element itself sends it: links inside
  // it ask for other things.
  document.body.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (event.detail.verb === "get" && elt.dataset && elt.dataset.etag) {
      event.detail.headers["If-None-Match"] = elt.dataset.etag;
    }
  });
})();

(function () {
  // Kind-first forms: with htmx, changing the kind fetches its fields at once, so the
  // no-script "Show its fields" button is not needed.
  if (!window.htmx) return;
  document.querySelectorAll("[data-without-script]").forEach((el) => { el.hidden = true; });
})();
