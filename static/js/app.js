// Red Queen's only script of its own. Pages work without it; it adds small comforts.
// No inline handlers and no eval: the Content-Security-Policy forbids both.
"use strict";
