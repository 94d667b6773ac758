// The demo page: the query (?post=&lang=&theme=) becomes the widget's
// attributes before embed.js defines the elements.
(function () {
  "use strict";
  const q = new URLSearchParams(location.search);
  const thread = document.getElementById("thread");
  const form = document.getElementById("options");
  for (const k of ["post", "lang", "theme", "sort"]) {
    const v = q.get(k);
    if (!v) continue;
    thread.setAttribute(k, v);
    if (form.elements[k]) form.elements[k].value = v;
  }
  if (q.get("lang")) document.documentElement.lang = q.get("lang");
})();
