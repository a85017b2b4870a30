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
  let observer = null;

  if ("IntersectionObserver" in window) {
    observer = new IntersectionObserver(
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
    // The notes' live layer replaces the paragraphs: watch the new ones.
    document.body.addEventListener("htmx:afterSettle", () => {
      article.querySelectorAll("[data-paragraph]").forEach((p) => observer.observe(p));
    });
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
    // The notes' layer waits while words are selected or a note is being written.
    if (elt.hasAttribute("data-notes-layer") && notesBusy(elt)) event.preventDefault();
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

function notesBusy(layer) {
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed && layer.contains(selection.anchorNode)) return true;
  const panel = document.getElementById("annotation-panel");
  if (!panel) return false;
  if (panel.contains(document.activeElement) && document.activeElement.matches("textarea, input, select")) return true;
  return Array.from(panel.querySelectorAll("textarea")).some((t) => t.value.trim() !== "");
}

function selectionTool(selector, options) {
  // Words selected in a text of numbered blocks ([data-paragraph], each with its text
  // in .para__text) become the paragraphs, the offsets in their text and the words,
  // sent to a form the server fills in; the server checks the words against its text.
  // Offsets count the text as the server does (cases.anchors.text_of): our own links
  // (counts, tools, marked [data-annotation-ui]) are not part of it. The notes on a
  // case and a grader's comments on a memo both use it. The layer is looked up anew
  // each time: htmx may have replaced it since.
  if (!document.querySelector(selector) || !window.htmx) return;
  const SEPARATOR = "\n\n";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button--primary annotate-button";
  button.textContent = options.label;
  button.hidden = true;
  document.body.appendChild(button);
  let chosen = null;

  function isUi(node) {
    const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    return Boolean(el && el.closest("[data-annotation-ui]"));
  }
  function textNodes(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const found = [];
    while (walker.nextNode()) if (!isUi(walker.currentNode)) found.push(walker.currentNode);
    return found;
  }
  function textOf(root) {
    return textNodes(root).map((n) => n.data).join("");
  }
  // The server counts characters (code points), not UTF-16 units as JavaScript does.
  function length(text) {
    return Array.from(text).length;
  }
  function slice(text, start, end) {
    return Array.from(text).slice(start, end).join("");
  }
  // The offset in `root`'s text of a boundary point (node, offset) of a range.
  function offsetIn(root, node, offset) {
    const range = document.createRange();
    range.selectNodeContents(root);
    range.setEnd(node, offset);
    let count = 0;
    for (const text of textNodes(root)) {
      if (!range.intersectsNode(text)) break;
      if (text === node) return count + length(text.data.slice(0, offset));
      if (range.comparePoint(text, text.length) <= 0) count += length(text.data);
      else break;
    }
    return count;
  }
  function paragraphOf(layer, node) {
    const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    const section = el && el.closest("[data-paragraph]");
    const text = el && el.closest(".para__text");
    return section && text && layer.contains(section) ? { section, text } : null;
  }
  function read() {
    const layer = document.querySelector(selector);
    const selection = window.getSelection();
    if (!layer || !selection || selection.isCollapsed || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    const first = paragraphOf(layer, range.startContainer);
    const last = paragraphOf(layer, range.endContainer);
    if (!first || !last) return null;
    const start = offsetIn(first.text, range.startContainer, range.startOffset);
    const end = offsetIn(last.text, range.endContainer, range.endOffset);
    let quote;
    if (first.section === last.section) {
      quote = slice(textOf(first.text), start, end);
    } else {
      const sections = Array.from(layer.querySelectorAll("[data-paragraph]"));
      const from = sections.indexOf(first.section);
      const to = sections.indexOf(last.section);
      const parts = [slice(textOf(first.text), start)];
      for (let i = from + 1; i < to; i++) parts.push(textOf(sections[i].querySelector(".para__text")));
      parts.push(slice(textOf(last.text), 0, end));
      quote = parts.join(SEPARATOR);
    }
    if (!quote.trim()) return null;
    return {
      url: options.url(layer),
      fields: {
        paragraph: first.section.dataset.paragraph,
        start: String(start),
        end_paragraph: last.section.dataset.paragraph,
        end: String(end),
        quote: quote,
      },
      rect: range.getBoundingClientRect(),
    };
  }
  function update() {
    chosen = read();
    if (!chosen) {
      button.hidden = true;
      return;
    }
    button.style.top = `${window.scrollY + chosen.rect.bottom + 8}px`;
    button.style.left = `${Math.max(8, window.scrollX + chosen.rect.left)}px`;
    button.hidden = false;
  }
  let waiting = null;
  document.addEventListener("selectionchange", () => {
    clearTimeout(waiting);
    waiting = setTimeout(update, 200);
  });
  button.addEventListener("click", () => {
    if (!chosen) return;
    const query = new URLSearchParams(chosen.fields);
    button.hidden = true;
    const url = chosen.url + (chosen.url.includes("?") ? "&" : "?") + query;
    htmx.ajax("GET", url, { target: options.target(chosen.fields), swap: "innerHTML" });
  });
}

(function () {
  // Notes on the words of a case: selecting words offers "Annotate selection", which
  // opens the note form in the margin panel.
  selectionTool("[data-notes-layer]", {
    label: "Annotate selection",
    url: (layer) => layer.dataset.notesUrl,
    target: () => "#annotation-panel",
  });
  // A thread or a form opened in the panel takes the focus (and, on a phone, the view).
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "annotation-panel") return;
    const heading = event.detail.target.querySelector("[tabindex='-1']");
    // A new note's form: the words to pick first (keyboard), else the note itself.
    const field = event.detail.target.querySelector("#note-sentence, #note-body");
    (field && !event.detail.target.querySelector(".thread-status") ? field : heading)?.focus();
  });
})();

(function () {
  // A grader's comments on a memo: selecting words offers "Comment on selection",
  // which opens the comment form beside the paragraph where the words begin.
  selectionTool("[data-comments-layer]", {
    label: "Comment on selection",
    url: (layer) => layer.dataset.commentsUrl,
    target: (fields) => `#comment-slot-${fields.paragraph}`,
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target.id || !target.id.startsWith("comment-slot-")) return;
    target.querySelector("#comment-sentence, #comment-body")?.focus();
  });
  // A comment saved or deleted replaces the text: the focus goes to the line saying so
  // rather than being lost with the form.
  document.body.addEventListener("htmx:afterSettle", () => {
    const status = document.querySelector("#memo-layer [data-focus-after-swap]");
    if (!status) return;
    status.removeAttribute("data-focus-after-swap");
    status.focus();
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

(function () {
  // Written analyses: count the words as the student types (as the server counts them:
  // runs of non-space characters holding a letter or a digit), and "Insert citation"
  // puts ¶N where the cursor is rather than posting the form (its no-script way).
  const editor = document.querySelector("[data-memo-editor]");
  if (!editor) return;
  const limit = Number(editor.dataset.wordLimit);
  const WORD = /\S*[\p{L}\p{N}]\S*/gu;
  function count() {
    const words = (editor.value.match(WORD) || []).length;
    const shown = document.querySelector("[data-word-count]");
    if (shown) shown.textContent = String(words);
    editor.closest(".field").classList.toggle("field--over", words > limit);
  }
  editor.addEventListener("input", count);
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-cite-insert]");
    if (!button) return;
    event.preventDefault();
    const number = document.getElementById("cite-paragraph").value;
    const start = editor.selectionStart ?? editor.value.length;
    const end = editor.selectionEnd ?? start;
    const before = editor.value.slice(0, start);
    const text = (before && !/\s$/.test(before) ? " " : "") + "¶" + number;
    editor.value = before + text + editor.value.slice(end);
    editor.focus();
    editor.setSelectionRange(start + text.length, start + text.length);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

(function () {
  // A control pressed inside a region htmx replaces (a button of the live console, the
  // phone's answer, the people page's Add) went with the old markup, and the focus fell
  // to the page's body: the next Tab started again at the top. The focus goes back to
  // the same control in the new markup (by id, else by its form's address and its
  // name and value, else the form's first button), or, gone, to the region itself.
  // A region the app focuses on its own (the notes panel, a memo comment) keeps that.
  let pressed = null;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const active = document.activeElement;
    const target = event.detail.target;
    pressed = null;
    if (!active || active === document.body || !target.contains(active)) return;
    const form = active.form || active.closest("form");
    pressed = {
      id: active.id,
      region: target.id,
      action: form ? form.getAttribute("action") : null,
      name: active.getAttribute("name"),
      value: active.getAttribute("value"),
    };
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    const was = pressed;
    pressed = null;
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    let found = was.id ? document.getElementById(was.id) : null;
    if (!found && was.action) {
      const scope = (was.region && document.getElementById(was.region)) || document;
      const forms = Array.from(scope.querySelectorAll("form")).filter(
        (form) => form.getAttribute("action") === was.action
      );
      const controls = forms.flatMap((form) =>
        Array.from(form.querySelectorAll("button, input:not([type=hidden]), select, textarea"))
      );
      found =
        controls.find((el) => el.getAttribute("name") === was.name && el.getAttribute("value") === was.value) ||
        controls.find((el) => el.tagName === "BUTTON");
    }
    if (!found && was.region) {
      found = document.getElementById(was.region);
      if (found && !found.hasAttribute("tabindex")) found.setAttribute("tabindex", "-1");
    }
    if (found && !found.disabled) found.focus();
  });
})();
