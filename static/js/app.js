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
  let current = null;
  let lastActivity = Date.now();

  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (entry.isIntersecting) current = entry.target.dataset.paragraph;
        }
      },
      { rootMargin: "0px 0px -60% 0px" }
    );
    paragraphs.forEach((p) => observer.observe(p));
  }
  for (const type of ["scroll", "keydown", "pointermove", "touchstart"]) {
    window.addEventListener(type, () => { lastActivity = Date.now(); }, { passive: true });
  }

  function beat() {
    if (document.visibilityState !== "visible") return;
    if (Date.now() - lastActivity > 120000) return; // Idle for two minutes: not reading.
    const body = new URLSearchParams();
    if (current) body.set("paragraph", current);
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
    }).catch(() => {});
  }
  setInterval(beat, 20000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") beat();
  });
})();
